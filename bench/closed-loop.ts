import autocannon from 'autocannon'
import { workload } from './workload.js'

/**
 * The closed loop: autocannon keeps `connections` connections busy posting the workload's events to
 * /events for `seconds`. The ids answered 2xx are added to `ok` (the bench checks they were stored).
 */
export async function closedLoop (url: string, connections: number, seconds: number, headers: Record<string, string>, ok: Set<string>, load = workload()): Promise<autocannon.Result> {
  return await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{
      method: 'POST',
      path: '/events',
      setupRequest: (request: any, context: any) => {
        const { id, body } = load.next()
        context.id = id
        return { ...request, body, headers }
      },
      onResponse: (status: number, _body: string, context: any) => { if (status >= 200 && status < 300) ok.add(context.id) }
    }]
  } as any)
}
