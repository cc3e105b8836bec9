// The route table, the shared pipeline and the OpenAPI document, assembled once for every edge.
import { buildOpenApiDocument } from './openapi-document.ts';
import { recordRoutes } from './record-routes.ts';
import { createPipeline, type Pipeline } from './request-pipeline.ts';
import type { ApiServices, RouteDefinition } from './route-definition.ts';
import { systemRoutes } from './system-routes.ts';
import type { TokenVerifier } from './authentication.ts';

export interface ApiApplication {
  readonly routes: readonly RouteDefinition[];
  readonly pipeline: Pipeline;
  readonly openApiDocument: object;
}

export const API_VERSION = '1.0.0';

export function createApiApplication(services: ApiServices, verifyToken: TokenVerifier): ApiApplication {
  let document: object | undefined;
  const routes: RouteDefinition[] = [...recordRoutes, ...systemRoutes(() => document ?? {})];
  document = buildOpenApiDocument(routes, API_VERSION);
  return { routes, pipeline: createPipeline(services, verifyToken), openApiDocument: document };
}
