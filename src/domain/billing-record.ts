// The billing record of API.md: one schema source for the TypeScript types, the runtime validation
// and the OpenAPI document. Property order here is the order of the JSON on the wire.
import Type, { type Static, type TSchema } from 'typebox';

const ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';
const INSTANT_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?Z$';
const DAY_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';
const INVOICE_NUMBER = { minLength: 1, maxLength: 128 };
const MONEY = { minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };

export const RecordId = Type.String({ pattern: ID_PATTERN, description: '1-128 chars of [A-Za-z0-9._:-]' });
export const Instant = Type.String({ pattern: INSTANT_PATTERN, description: 'RFC 3339 UTC date-time' });
export const Day = Type.String({ pattern: DAY_PATTERN, description: 'YYYY-MM-DD' });
export const RecordStatus = Type.Union(
  [
    Type.Literal('draft'),
    Type.Literal('issued'),
    Type.Literal('paid'),
    Type.Literal('void'),
    Type.Literal('overdue'),
  ],
  { description: 'draft | issued | paid | void | overdue' },
);

export const LineItem = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 128 }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    quantity: Type.Number({ minimum: 0 }),
    unitPriceMinor: Type.Integer(MONEY),
    amountMinor: Type.Integer(MONEY),
  },
  { additionalProperties: false },
);

export const BillingPeriod = Type.Object({ start: Day, end: Day }, { additionalProperties: false });

export const Metadata = Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 1024 }), {
  maxProperties: 64,
  description: 'string values',
});

// Fields a client writes, in wire order. id and customerId are optional in bodies: the path has them.
const writableFields = {
  id: Type.Optional(RecordId),
  customerId: Type.Optional(RecordId),
  invoiceNumber: Type.String(INVOICE_NUMBER),
  issuedAt: Instant,
  dueAt: Type.Optional(Instant),
  billingPeriod: BillingPeriod,
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
  status: RecordStatus,
  lineItems: Type.Array(LineItem, { maxItems: 10_000 }),
  subtotalMinor: Type.Integer(MONEY),
  taxMinor: Type.Integer(MONEY),
  totalMinor: Type.Integer(MONEY),
  metadata: Type.Optional(Metadata),
};

export const SERVER_MANAGED_FIELDS = ['version', 'createdAt', 'updatedAt'] as const;

export const RecordInput = Type.Object(writableFields, { additionalProperties: false });
export type RecordInput = Static<typeof RecordInput>;

export const BillingRecord = Type.Object(
  {
    ...writableFields,
    id: RecordId,
    customerId: RecordId,
    version: Type.Integer({ minimum: 1 }),
    createdAt: Instant,
    updatedAt: Instant,
  },
  { additionalProperties: false },
);
export type BillingRecord = Static<typeof BillingRecord>;

/** A summary is the record without lineItems and metadata: what list queries and archive stubs keep. */
export const RecordSummary = Type.Object(
  {
    id: RecordId,
    customerId: RecordId,
    invoiceNumber: writableFields.invoiceNumber,
    issuedAt: Instant,
    dueAt: Type.Optional(Instant),
    billingPeriod: BillingPeriod,
    currency: writableFields.currency,
    status: RecordStatus,
    subtotalMinor: Type.Integer(MONEY),
    taxMinor: Type.Integer(MONEY),
    totalMinor: Type.Integer(MONEY),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Instant,
    updatedAt: Instant,
  },
  { additionalProperties: false },
);
export type RecordSummary = Static<typeof RecordSummary>;

export const RecordPage = Type.Object(
  { items: Type.Array(RecordSummary), nextCursor: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    issuedFrom: Type.Optional(Instant),
    issuedTo: Type.Optional(Instant),
    status: Type.Optional(RecordStatus),
    invoiceNumber: Type.Optional(
      Type.String({ ...INVOICE_NUMBER, description: "exact match on the record's invoiceNumber" }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const RecordPath = Type.Object(
  { customerId: RecordId, recordId: RecordId },
  { additionalProperties: false },
);
export const CustomerPath = Type.Object({ customerId: RecordId }, { additionalProperties: false });

export function toSummary(record: BillingRecord): RecordSummary {
  const { lineItems: _lineItems, metadata: _metadata, ...summary } = record;
  return summary;
}

/** The record's JSON with keys in schema order (and map keys sorted): the same bytes from every tier. */
export function canonicalJson(schema: TSchema, value: unknown): string {
  return JSON.stringify(ordererOf(schema)(value));
}

type Orderer = (value: unknown) => unknown;
const orderers = new WeakMap<TSchema, Orderer>();

/** Each schema is walked once, not on every value: this runs for every record a read answers. */
function ordererOf(schema: TSchema): Orderer {
  return orderers.get(schema) ?? compileOrderer(schema);
}

/**
 * A copy of `value` with an object's keys in its schema's order (keys the schema lacks are left out),
 * array items ordered by the items' schema, and a map's keys (no `properties`) sorted, one level deep.
 */
function compileOrderer(schema: TSchema): Orderer {
  const s = schema as { properties?: Record<string, TSchema>; items?: TSchema };
  let keys: string[] | undefined;
  let children: Orderer[] = [];
  let items: Orderer | undefined;
  const orderer: Orderer = (value) => {
    if (Array.isArray(value)) {
      const list = value as unknown[];
      return items === undefined ? list : list.map((item) => items!(item));
    }
    if (value === null || typeof value !== 'object') return value;
    const source = value as Record<string, unknown>;
    const ordered: Record<string, unknown> = {};
    if (keys !== undefined) {
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index]!;
        const property = source[key];
        if (property !== undefined) ordered[key] = children[index]!(property);
      }
      return ordered;
    }
    for (const key of Object.keys(source).sort()) ordered[key] = source[key];
    return ordered;
  };
  // Registered before its children are compiled, so a schema that refers to itself compiles too.
  orderers.set(schema, orderer);
  if (s.properties !== undefined) {
    keys = Object.keys(s.properties);
    children = keys.map((key) => ordererOf(s.properties![key]!));
  }
  if (s.items !== undefined) items = ordererOf(s.items);
  return orderer;
}

export const serializeRecord = (record: BillingRecord): string => canonicalJson(BillingRecord, record);
