import { TagsInput, Text } from '@mantine/core';
import type { DescriptionFieldProps, FieldProps, TitleFieldProps } from '@rjsf/utils';
import type { JsonSchema } from '../api/types';

/** A list of strings (target names, agent names) as tags: type, Enter, next. */
export function StringListField({ name, schema, formData, onChange, fieldPathId, rawErrors, disabled, readonly, required }: FieldProps) {
  const value = Array.isArray(formData) ? formData.filter((v) => v != null && v !== '').map(String) : [];
  // The items' ``examples`` (e.g. the agents the hub knows) are offered as the user types.
  const items = schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items) ? schema.items : {};
  const examples = Array.isArray(items.examples) ? items.examples.map(String) : [];
  return (
    <TagsInput
      id={fieldPathId.$id}
      label={schema.title ?? name}
      description={schema.description}
      placeholder={examples.length ? `type or pick: ${examples.slice(0, 3).join(', ')}` : 'type and press Enter'}
      data={examples}
      value={value}
      onChange={(next) => onChange(next.length ? next : undefined, fieldPathId.path)}
      error={rawErrors?.length ? rawErrors.join('\n') : undefined}
      disabled={disabled || readonly}
      required={required}
      clearable
    />
  );
}

function allowsNull(schema: JsonSchema): boolean {
  const extra = schema.additionalProperties as JsonSchema | undefined;
  const types = Array.isArray(extra?.type) ? extra.type : [extra?.type];
  return types.includes('null');
}

/** A label map as `key=value` tags (`key` alone means "has this key" where the schema allows it). */
export function LabelsField({ name, schema, formData, onChange, fieldPathId, rawErrors, disabled, readonly, required }: FieldProps) {
  const labels = (formData && typeof formData === 'object' ? formData : {}) as Record<string, string | null>;
  const value = Object.entries(labels).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  const keyOnly = allowsNull(schema as JsonSchema);
  const update = (tags: string[]) => {
    const next: Record<string, string | null> = {};
    for (const tag of tags) {
      const at = tag.indexOf('=');
      if (at > 0) next[tag.slice(0, at).trim()] = tag.slice(at + 1).trim();
      else next[tag.trim()] = keyOnly ? null : '';
    }
    onChange(Object.keys(next).length ? next : undefined, fieldPathId.path);
  };
  return (
    <TagsInput
      id={fieldPathId.$id}
      label={schema.title ?? name}
      description={schema.description}
      placeholder={keyOnly ? 'key=value or key, then Enter' : 'key=value, then Enter'}
      value={value}
      onChange={update}
      error={rawErrors?.length ? rawErrors.join('\n') : undefined}
      disabled={disabled || readonly}
      required={required}
      clearable
    />
  );
}

/** Which custom field, if any, renders a property of this schema. */
export function customFieldFor(prop: JsonSchema): 'StringList' | 'Labels' | null {
  const types = Array.isArray(prop.type) ? prop.type : [prop.type];
  if (types.includes('array') && prop.items?.type === 'string' && !prop.items.enum) return 'StringList';
  if (types.includes('object') && !prop.properties && prop.additionalProperties && typeof prop.additionalProperties === 'object')
    return 'Labels';
  return null;
}

/** Nested objects' titles and descriptions at the size of the fields around them. */
export function TitleField({ id, title, required }: TitleFieldProps) {
  return (
    <Text id={id} fw={600} size="sm" mt="xs">
      {title}
      {required ? <Text span c="red"> *</Text> : null}
    </Text>
  );
}

export function DescriptionField({ id, description }: DescriptionFieldProps) {
  return (
    <Text id={id} size="xs" c="dimmed" mb={4}>
      {description}
    </Text>
  );
}
