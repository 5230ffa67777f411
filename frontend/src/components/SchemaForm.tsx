import Form from '@rjsf/mantine';
import type { ErrorSchema, RJSFSchema, UiSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import type { Ref } from 'react';
import type { JsonObject, JsonSchema } from '../api/types';
import { DescriptionField, LabelsField, StringListField, TitleField, customFieldFor } from './SchemaFields';

const FIELDS = { StringList: StringListField, Labels: LabelsField };
const TEMPLATES = { TitleFieldTemplate: TitleField, DescriptionFieldTemplate: DescriptionField };

export type SchemaFormHandle = { validateForm: () => boolean };

/** No submit button of its own (the page has its buttons), and numbers that are out of range
 * stay as typed with the error under them instead of being clamped silently on blur. */
function uiSchemaFor(schema: JsonSchema): UiSchema {
  const count = Object.keys(schema.properties ?? {}).length;
  const ui: UiSchema = {
    'ui:submitButtonOptions': { norender: true },
    'ui:options': { gridCols: count > 2 ? 2 : 1, gridSpacing: 'md', gridVerticalSpacing: 'sm' },
  };
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const types = Array.isArray(prop.type) ? prop.type : [prop.type];
    if (types.includes('number') || types.includes('integer')) ui[name] = { 'ui:options': { clampBehavior: 'none' } };
    const custom = customFieldFor(prop);
    if (custom) ui[name] = { 'ui:field': custom };
    else if (prop.writeOnly === true) ui[name] = { 'ui:widget': 'password' };
  }
  return ui;
}

/** Drop the root's combinators (oneOf/anyOf: "exactly one of names or pattern"): as a form they
 * render as an option picker that hides fields. The hub still checks them and says which rule
 * was broken, next to the form. */
export function formSchema(schema: JsonSchema): RJSFSchema {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { oneOf, anyOf, allOf, description, ...rest } = acceptSecretMarker(schema);
  return { type: 'object', ...rest } as RJSFSchema;
}

/** What the hub shows for a stored secret (a ``writeOnly`` field); sent back, it keeps the value. */
export const SECRET_SET = '<set>';

/** A stored secret reads as the marker, which its own bounds (length, pattern) may refuse: the
 * form lets it through and says what it means; the hub checks the real value on save. */
function acceptSecretMarker(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema };
  if (schema.writeOnly === true) {
    delete out.minLength;
    delete out.maxLength;
    delete out.pattern;
    const note = `secret, never shown: leave ${SECRET_SET} to keep the stored value, or type a new one`;
    out.description = schema.description ? `${schema.description} (${note})` : note;
  }
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, acceptSecretMarker(v)]));
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.items = acceptSecretMarker(schema.items);
  return out;
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
  defaults = 'all',
}: {
  schema: JsonSchema;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  extraErrors?: ErrorSchema;
  formRef?: Ref<SchemaFormHandle>;
  idPrefix: string;
  disabled?: boolean;
  /** ``all``: show every default (parameters); ``required``: fill in only what is required, so
   * optional parts (a selector's alternatives) stay out until someone fills them. */
  defaults?: 'all' | 'required';
}) {
  return (
    <div className="schema-form">
      <Form
        ref={formRef as never}
        schema={formSchema(schema)}
        uiSchema={uiSchemaFor(schema)}
        validator={validator}
        fields={FIELDS}
        templates={TEMPLATES}
        experimental_defaultFormStateBehavior={
          defaults === 'required'
            ? { emptyObjectFields: 'populateRequiredDefaults', arrayMinItems: { populate: 'never' } }
            : { arrayMinItems: { populate: 'never' } }
        }
        formData={value}
        onChange={(e) => onChange((e.formData ?? {}) as JsonObject)}
        liveValidate="onChange"
        showErrorList={false}
        noHtml5Validate
        extraErrors={extraErrors}
        idPrefix={idPrefix}
        disabled={disabled}
      />
    </div>
  );
}
