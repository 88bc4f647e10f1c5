import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import { ListQuery, ReconcileRunPage } from '../schemas/api.js'

/** The reconciliation runs, newest first. */
const reconcileRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/reconcile/runs', { schema: { querystring: ListQuery, response: { 200: ReconcileRunPage } } },
    // `counts` is the drift report the reconciler stored (JSON in the database, untyped there).
    async request => await fastify.reconcileStore.runs(request.query.limit, request.query.cursor) as Static<typeof ReconcileRunPage>)
}

export default reconcileRoutes
