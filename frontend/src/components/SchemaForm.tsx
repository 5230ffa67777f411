import Form from '@rjsf/mantine';
import type { ErrorSchema, RJSFSchema, UiSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import type { Ref } from 'react';
import type { JsonObject, JsonSchema } from '../api/types';

export type SchemaFormHandle = { validateForm: () => boolean };

/** No submit button of its own (the page has its buttons), and numbers that are out of range
 * stay as typed with the error under them instead of being clamped silently on blur. */
function uiSchemaFor(schema: JsonSchema): UiSchema {
  const ui: UiSchema = { 'ui:submitButtonOptions': { norender: true } };
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const types = Array.isArray(prop.type) ? prop.type : [prop.type];
    if (types.includes('number') || types.includes('integer')) ui[name] = { 'ui:options': { clampBehavior: 'none' } };
  }
  return ui;
}

/** Drop the root's combinators (oneOf/anyOf: "exactly one of names or pattern"): as a form they
 * render as an option picker that hides fields. The hub still checks them and says which rule
 * was broken, next to the form. */
export function formSchema(schema: JsonSchema): RJSFSchema {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { oneOf, anyOf, allOf, description, ...rest } = schema;
  return { type: 'object', ...rest } as RJSFSchema;
}

/** Build the error schema rjsf shows inline from a hub error's field path (after its root). */
export function errorSchemaFor(path: string[], message: string): ErrorSchema {
  const root: Record<string, unknown> = {};
  let node = root;
  for (const key of path) {
    const next: Record<string, unknown> = {};
    node[key] = next;
    node = next;
  }
  node.__errors = [message];
  return root as ErrorSchema;
}

/** A form generated from a JSON Schema, validated as the user types. */
export function SchemaForm({
  schema,
  value,
  onChange,
  extraErrors,
  formRef,
  idPrefix,
  disabled,
}: {
  schema: JsonSchema;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  extraErrors?: ErrorSchema;
  formRef?: Ref<SchemaFormHandle>;
  idPrefix: string;
  disabled?: boolean;
}) {
  return (
    <Form
      ref={formRef as never}
      schema={formSchema(schema)}
      uiSchema={uiSchemaFor(schema)}
      validator={validator}
      formData={value}
      onChange={(e) => onChange((e.formData ?? {}) as JsonObject)}
      liveValidate="onChange"
      showErrorList={false}
      noHtml5Validate
      extraErrors={extraErrors}
      idPrefix={idPrefix}
      disabled={disabled}
    />
  );
}
