import { createHmac } from 'node:crypto'

// SaaSus's request signature (SAASUSSIGV1), as its SDKs compute it: an HMAC-SHA256 keyed with the secret
// key over the UTC minute, the API key, the method, the URL without its scheme, and the body.

export interface SaasusCredentials {
  saasId: string
  apiKey: string
  /** Signs requests; never logged, stored or shown. */
  secretKey: string
}

/** The UTC minute a signature is valid for, as `YYYYMMDDHHmm`. */
export function signatureMinute (at: Date): string {
  return at.toISOString().slice(0, 16).replace(/[-T:]/g, '')
}

/** The URL as signed: everything after `scheme://` (host, optional port, path and query). */
export function signedUrlPart (url: URL): string {
  return `${url.host}${url.pathname}${url.search}`
}

export interface Signable {
  minute: string
  apiKey: string
  method: string
  urlPart: string
  body: string
}

/** The lower-case hex signature of one request. */
export function signature (secretKey: string, request: Signable): string {
  return createHmac('sha256', secretKey)
    .update(request.minute + request.apiKey + request.method.toUpperCase() + request.urlPart + request.body)
    .digest('hex')
}

/** The `Authorization` header of one request made at `at`. */
export function authorization (credentials: SaasusCredentials, method: string, url: URL, body: string, at: Date): string {
  const sig = signature(credentials.secretKey, {
    minute: signatureMinute(at), apiKey: credentials.apiKey, method, urlPart: signedUrlPart(url), body
  })
  return `SAASUSSIGV1 Sig=${sig}, SaaSID=${credentials.saasId}, APIKey=${credentials.apiKey}`
}
