// The route table and its OpenAPI document (static), and the pipeline that serves them (per process).
import type { TokenVerifier } from './authentication.ts';
import { adminRoutes } from './admin-routes.ts';
import { buildOpenApiDocument } from './openapi-document.ts';
import { recordRoutes } from './record-routes.ts';
import { createPipeline, type Pipeline, type PipelineOptions } from './request-pipeline.ts';
import type { ApiServices, RouteDefinition } from './route-definition.ts';
import { systemRoutes } from './system-routes.ts';

export const API_VERSION = '1.0.0';

export interface RouteTable {
  readonly routes: readonly RouteDefinition[];
  readonly openApiDocument: object;
}

export interface ApiApplication extends RouteTable {
  readonly pipeline: Pipeline;
}

function buildRouteTable(): RouteTable {
  let document: object = {};
  const routes: RouteDefinition[] = [...recordRoutes, ...adminRoutes, ...systemRoutes(() => document)];
  document = buildOpenApiDocument(routes, API_VERSION);
  return { routes, openApiDocument: document };
}

/** Every edge registers these same routes; the OpenAPI document is generated from them. */
export const ROUTE_TABLE: RouteTable = buildRouteTable();

export function createApiApplication(
  services: ApiServices,
  verifyToken: TokenVerifier,
  options: PipelineOptions = {},
): ApiApplication {
  return { ...ROUTE_TABLE, pipeline: createPipeline(services, verifyToken, options) };
}
