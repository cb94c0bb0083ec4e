// Turns one property of a method's JSON Schema (from z.toJSONSchema) into the form field that edits it,
// and checks a value against its limits so the form can say what is wrong before the server does.

export type FieldKind = 'enum' | 'number' | 'boolean' | 'string' | 'list' | 'enum-or-list';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  /** Human label from the property name: "numVirtualTokens" → "Num virtual tokens". */
  label: string;
  help: string;
  default: unknown;
  /** null allowed: the field shows an "auto" switch, null meaning the described default. */
  isNullable: boolean;
  isInteger: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
  /** enum values ('enum', 'enum-or-list'). */
  options: string[];
  /** Item type of a list. */
  itemKind?: 'number' | 'string';
}

type Schema = Record<string, unknown>;

const asSchema = (value: unknown): Schema => (value && typeof value === 'object' ? (value as Schema) : {});

export function humanize(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The fields of an object schema, in declaration order. */
export function fieldsOf(schema: Schema): FieldSpec[] {
  const properties = asSchema(schema.properties);
  return Object.entries(properties).map(([name, raw]) => fieldOf(name, asSchema(raw)));
}

export function fieldOf(name: string, schema: Schema): FieldSpec {
  const spec: FieldSpec = {
    name,
    kind: 'string',
    label: humanize(name),
    help: typeof schema.description === 'string' ? schema.description : '',
    default: schema.default,
    isNullable: false,
    isInteger: false,
    options: [],
  };
  let variants: Schema[] = [schema];
  if (Array.isArray(schema.anyOf)) {
    variants = (schema.anyOf as unknown[]).map(asSchema);
    spec.isNullable = variants.some((v) => v.type === 'null');
    variants = variants.filter((v) => v.type !== 'null');
  }
  const enumVariant = variants.find((v) => Array.isArray(v.enum));
  const arrayVariant = variants.find((v) => v.type === 'array');
  const main = variants[0] ?? {};
  if (enumVariant && arrayVariant) {
    spec.kind = 'enum-or-list';
    spec.options = (enumVariant.enum as unknown[]).map(String);
    spec.itemKind = 'string';
  } else if (enumVariant) {
    spec.kind = 'enum';
    spec.options = (enumVariant.enum as unknown[]).map(String);
  } else if (arrayVariant) {
    spec.kind = 'list';
    const items = asSchema(arrayVariant.items);
    spec.itemKind = items.type === 'integer' || items.type === 'number' ? 'number' : 'string';
    spec.isInteger = items.type === 'integer';
  } else if (main.type === 'boolean') {
    spec.kind = 'boolean';
  } else if (main.type === 'integer' || main.type === 'number') {
    spec.kind = 'number';
    spec.isInteger = main.type === 'integer';
  }
  const limits = spec.kind === 'number' ? main : {};
  if (typeof limits.minimum === 'number') spec.minimum = limits.minimum;
  if (typeof limits.maximum === 'number' && limits.maximum < Number.MAX_SAFE_INTEGER) spec.maximum = limits.maximum;
  if (typeof limits.exclusiveMinimum === 'number') spec.exclusiveMinimum = limits.exclusiveMinimum;
  if (typeof limits.exclusiveMaximum === 'number') spec.exclusiveMaximum = limits.exclusiveMaximum;
  if (typeof main.maxLength === 'number') spec.maxLength = main.maxLength;
  return spec;
}

/** What is wrong with a value for this field, or null when it is fine. */
export function checkValue(spec: FieldSpec, value: unknown): string | null {
  if (value === null) return spec.isNullable ? null : 'a value is required';
  switch (spec.kind) {
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'enter a number';
      if (spec.isInteger && !Number.isInteger(value)) return 'enter a whole number';
      if (spec.minimum !== undefined && value < spec.minimum) return `at least ${spec.minimum}`;
      if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum) return `more than ${spec.exclusiveMinimum}`;
      if (spec.maximum !== undefined && value > spec.maximum) return `at most ${spec.maximum}`;
      if (spec.exclusiveMaximum !== undefined && value >= spec.exclusiveMaximum) return `less than ${spec.exclusiveMaximum}`;
      return null;
    }
    case 'enum':
      return spec.options.includes(String(value)) ? null : `one of ${spec.options.join(', ')}`;
    case 'list':
    case 'enum-or-list':
      if (typeof value === 'string') return spec.kind === 'enum-or-list' && spec.options.includes(value) ? null : `one of ${spec.options.join(', ')}`;
      if (!Array.isArray(value)) return 'a list is expected';
      if (spec.itemKind === 'number' && value.some((v) => typeof v !== 'number' || !Number.isFinite(v) || (spec.isInteger && !Number.isInteger(v)))) {
        return 'a comma-separated list of whole numbers';
      }
      if (spec.kind === 'enum-or-list' && value.length === 0) return 'name at least one module';
      return null;
    case 'string':
      if (typeof value !== 'string') return 'text is expected';
      if (spec.maxLength !== undefined && value.length > spec.maxLength) return `at most ${spec.maxLength} characters`;
      return null;
    default:
      return null;
  }
}

/** "1, 2, 3" → [1, 2, 3] (numbers) or ["q_proj", "v_proj"] (strings). */
export function parseList(text: string, itemKind: 'number' | 'string'): (number | string)[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return itemKind === 'number' ? parts.map((p) => Number(p)) : parts;
}
