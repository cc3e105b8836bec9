// The billing-records routes of API.md: parse, call one use case, format.
import Type from 'typebox';
import {
  BillingRecord,
  CustomerPath,
  ListQuery,
  RecordInput,
  RecordPage,
  RecordPath,
  canonicalJson,
  serializeRecord,
} from '../domain/billing-record.ts';
import { etagOf, ifNoneMatchSatisfied } from '../domain/etag.ts';
import { type ApiResponse, JSON_RESPONSE_TYPE } from './problem-response.ts';
import { defineRoute, type RouteDefinition } from './route-definition.ts';

const JSON_TYPE = 'application/json';
/** A merge patch is any JSON object (RFC 7396); the use case applies and validates the result. */
const MergePatch = Type.Object({}, { description: 'JSON Merge Patch (RFC 7396) of the record input' });
const recordsPath = '/api/v1/customers/{customerId}/billing-records';
const recordPath = `${recordsPath}/{recordId}`;

const keyOf = ({ params }: { params: { customerId: string; recordId: string } }) => ({
  customerId: params.customerId,
  id: params.recordId,
});

export function recordResponse(
  status: number,
  record: BillingRecord,
  extraHeaders: Record<string, string> = {},
): ApiResponse {
  return jsonRecordResponse(status, serializeRecord(record), record.version, extraHeaders);
}

/** A record's response from its API JSON (`serializeRecord`'s, here or as the store kept its bytes). */
function jsonRecordResponse(
  status: number,
  json: string | Uint8Array,
  version: number,
  extraHeaders: Record<string, string>,
): ApiResponse {
  return {
    status,
    headers: { 'content-type': JSON_RESPONSE_TYPE, etag: etagOf(version), ...extraHeaders },
    body: json,
  };
}

const recordResponses = {
  400: { description: 'Validation failed (problem+json)' },
  401: { description: 'Missing or invalid token' },
  403: { description: 'Role or customer not allowed' },
  404: { description: 'No such record' },
  503: { description: 'A store is unavailable; retry after Retry-After seconds' },
};

export const recordRoutes: readonly RouteDefinition[] = [
  defineRoute({
    operationId: 'createBillingRecord',
    audit: 'record.create',
    method: 'POST',
    path: recordsPath,
    summary: 'Create a billing record',
    tags: ['billing-records'],
    access: 'Billing.Write',
    params: CustomerPath,
    body: { schema: RecordInput, contentTypes: [JSON_TYPE] },
    responses: {
      201: { description: 'Created', schema: BillingRecord, headers: ['ETag', 'Location'] },
      409: { description: 'A record with this id exists' },
      413: { description: 'Body over 1 MiB' },
      ...recordResponses,
    },
    async handle(request, services) {
      const { customerId } = request.params;
      const record = await services.records.create(customerId, request.body);
      return recordResponse(201, record, {
        location: `/api/v1/customers/${encodeURIComponent(customerId)}/billing-records/${encodeURIComponent(record.id)}`,
      });
    },
  }),
  defineRoute({
    operationId: 'getBillingRecord',
    audit: 'record.read',
    method: 'GET',
    path: recordPath,
    summary: 'Read a billing record, wherever it is stored',
    tags: ['billing-records'],
    access: 'Billing.Read',
    params: RecordPath,
    requestHeaders: ['If-None-Match'],
    responses: {
      200: { description: 'The record', schema: BillingRecord, headers: ['ETag'] },
      304: { description: 'Not modified (If-None-Match matched)' },
      ...recordResponses,
    },
    async handle(request, services) {
      const started = performance.now();
      const read = await services.records.getForApi(keyOf(request));
      const version = read.json === undefined ? read.record.version : read.version;
      const informational = {
        'x-storage-tier': read.tier,
        'server-timing': `${read.tier};dur=${(performance.now() - started).toFixed(1)}`,
      };
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch !== undefined && ifNoneMatchSatisfied(ifNoneMatch, version)) {
        return { status: 304, headers: { etag: etagOf(version), ...informational } };
      }
      return read.json === undefined
        ? recordResponse(200, read.record, informational)
        : jsonRecordResponse(200, read.json, version, informational);
    },
  }),
  defineRoute({
    operationId: 'replaceBillingRecord',
    audit: 'record.replace',
    method: 'PUT',
    path: recordPath,
    summary: 'Replace a billing record',
    tags: ['billing-records'],
    access: 'Billing.Write',
    params: RecordPath,
    requestHeaders: ['If-Match'],
    body: { schema: RecordInput, contentTypes: [JSON_TYPE] },
    responses: {
      200: { description: 'The stored record', schema: BillingRecord, headers: ['ETag'] },
      412: { description: 'If-Match did not match the current version' },
      413: { description: 'Body over 1 MiB' },
      ...recordResponses,
    },
    async handle(request, services) {
      const record = await services.records.replace(keyOf(request), request.body, {
        ifMatch: request.headers['if-match'],
      });
      return recordResponse(200, record);
    },
  }),
  defineRoute({
    operationId: 'patchBillingRecord',
    audit: 'record.patch',
    method: 'PATCH',
    path: recordPath,
    summary: 'Change a billing record with a JSON merge patch',
    tags: ['billing-records'],
    access: 'Billing.Write',
    params: RecordPath,
    requestHeaders: ['If-Match'],
    body: { schema: MergePatch, contentTypes: ['application/merge-patch+json', JSON_TYPE] },
    responses: {
      200: { description: 'The stored record', schema: BillingRecord, headers: ['ETag'] },
      412: { description: 'If-Match did not match the current version' },
      413: { description: 'Body over 1 MiB' },
      ...recordResponses,
    },
    async handle(request, services) {
      const record = await services.records.patch(keyOf(request), request.body, {
        ifMatch: request.headers['if-match'],
      });
      return recordResponse(200, record);
    },
  }),
  defineRoute({
    operationId: 'deleteBillingRecord',
    audit: 'record.delete',
    method: 'DELETE',
    path: recordPath,
    summary: 'Delete a billing record',
    tags: ['billing-records'],
    access: 'Billing.Write',
    params: RecordPath,
    requestHeaders: ['If-Match'],
    responses: {
      204: { description: 'Deleted' },
      409: { description: 'The record is under legal hold (LEGAL_HOLD)' },
      412: { description: 'If-Match did not match the current version' },
      ...recordResponses,
    },
    async handle(request, services) {
      await services.records.delete(keyOf(request), { ifMatch: request.headers['if-match'] });
      return { status: 204 };
    },
  }),
  defineRoute({
    operationId: 'listBillingRecords',
    audit: 'record.list',
    method: 'GET',
    path: recordsPath,
    summary: "List a customer's billing records, newest issuedAt first",
    tags: ['billing-records'],
    access: 'Billing.Read',
    params: CustomerPath,
    query: ListQuery,
    responses: {
      200: { description: 'One page of summaries', schema: RecordPage },
      ...recordResponses,
    },
    async handle(request, services) {
      const page = await services.records.list(request.params.customerId, request.query);
      return {
        status: 200,
        headers: { 'content-type': JSON_RESPONSE_TYPE },
        body: canonicalJson(RecordPage, page),
      };
    },
  }),
];
