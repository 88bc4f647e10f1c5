import t from 'tap'
import { REDACTED, redactCredentials } from '../../src/saasus/redact.js'
import { authorization } from '../../src/saasus/signature.js'
import { SAASUS } from '../helpers/saasus.js'

t.test('the configured secrets and anything that looks like a credential are cut out; the rest stays', async t => {
  const header = authorization(SAASUS, 'GET', new URL('https://api.saasus.io/v1/auth/tenants'), '', new Date())
  const sig = /Sig=([0-9a-f]+)/.exec(header)![1]
  const cases: Array<[string, string]> = [
    [`invalid header: ${header}`, `invalid header: SAASUSSIGV1 ${REDACTED}`],
    [`{"headers":{"Authorization":"${header}"}}`, `{"headers":{"Authorization":"${REDACTED}"}}`],
    [`authorization=${header.toLowerCase()}`, `authorization=${REDACTED}`],
    [`token Bearer eyJhbGciOi.abc.def rejected`, `token Bearer ${REDACTED} rejected`],
    [`signature ${sig} does not match`, `signature ${REDACTED} does not match`],
    [`Sig=${sig}, SaaSID=x`, `Sig=${REDACTED}, SaaSID=x`],
    [`APIKey=k-123, secret_key: s-456, x-api-key="abc"`, `APIKey=${REDACTED}, secret_key: ${REDACTED}, x-api-key="${REDACTED}"`],
    [`client_secret=zzz&password=hunter2`, `client_secret=${REDACTED}&password=${REDACTED}`],
    [`the key ${SAASUS.apiKey} and the secret ${SAASUS.secretKey}`, `the key ${REDACTED} and the secret ${REDACTED}`],
    ['tenant t-1 not found', 'tenant t-1 not found'],
    ['SaaSID test-saas-id-0001 unknown', 'SaaSID test-saas-id-0001 unknown']
  ]
  for (const [input, expected] of cases) t.equal(redactCredentials(input, SAASUS), expected, input)
  t.equal(redactCredentials('nothing', { saasId: 's', apiKey: '', secretKey: '' }), 'nothing', 'empty secrets are not searched for')
})
