import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

// Driving the operator console with fastify.inject: sign-in, pages with the session cookie, forms.

export const CONSOLE_PASSWORD = 'console-password-0123456789'
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

export async function postForm (app: FastifyInstance, url: string, fields: Record<string, string>, cookie?: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url, payload: new URLSearchParams(fields).toString(), headers: { ...FORM, ...(cookie === undefined ? {} : { cookie }) } })
}

/** Signs in; the `cookie` header to send with later requests. */
export async function signIn (app: FastifyInstance, password = CONSOLE_PASSWORD): Promise<string> {
  const res = await postForm(app, '/console/sign-in', { password })
  if (res.statusCode !== 303) throw new Error(`sign-in answered ${res.statusCode}: ${res.body}`)
  return String(res.headers['set-cookie']).split(';')[0]
}

export async function page (app: FastifyInstance, url: string, cookie: string): Promise<LightMyRequestResponse> {
  return await app.inject({ url, headers: { cookie } })
}

/** The CSRF token a page's forms carry. */
export function csrfOf (html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html)
  if (match === null) throw new Error('no CSRF token on the page')
  return match[1]
}

/** The text of <main>, tags removed and spaces collapsed, for matching what a page says. */
export function mainText (html: string): string {
  const main = html.slice(html.indexOf('<main'), html.indexOf('</main>'))
  return main.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, '\'').replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim()
}

/** The hrefs of the links on a page matching `pattern`. */
export function links (html: string, pattern: RegExp): string[] {
  return [...html.matchAll(/href="([^"]+)"/g)].map(m => m[1].replace(/&amp;/g, '&')).filter(href => pattern.test(href))
}
