import type { FastifyPluginAsync } from 'fastify'
import { overview } from '../../console/overview.js'

const overviewRoute: FastifyPluginAsync = async (fastify) => {
  fastify.get('/', async (_request, reply) => {
    return await reply.page('overview', { title: 'Overview', nav: 'overview', ...await overview(fastify.repository, fastify.console.reads) })
  })
}

export default overviewRoute
