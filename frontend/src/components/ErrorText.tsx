import { Alert } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import type { CombinedError } from 'urql';
import { errorText } from '../api/client';
import type { HubError } from '../api/types';

/** An API error in words, shown where it happened. */
export function ErrorAlert({
  error,
  hubError,
  title,
}: {
  error?: CombinedError;
  hubError?: HubError | null;
  title?: string;
}) {
  const text = hubError ? hubError.message : errorText(error);
  if (!text) return null;
  const local = hubError?.__typename === 'local';
  const where = hubError?.field?.length && !local ? ` (${hubError.field.join('.')})` : '';
  return (
    <Alert
      color="red"
      icon={<IconAlertTriangle size={18} />}
      title={title ?? (local ? 'Check the form' : 'The hub refused this')}
      role="alert"
    >
      {text}
      {where}
    </Alert>
  );
}
