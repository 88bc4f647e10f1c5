import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { API_KEY, buildApp, tempDir } from '../helpers/app.js'
import { events } from '../helpers/events.js'
import { CONSOLE_PASSWORD } from '../helpers/console.js'
import { quarantineCopy } from '../../src/events/quarantine-copy.js'

// The console in a real browser: Debian's chromium driven by playwright-core (which never downloads one).
// Signs in, posts the seed samples through the API, finds them on the overview and the events page, opens
// one, filters, opens a quarantined item and replays it; every request stays on 127.0.0.1. Screenshots of
// each page go to a temp directory, or to docs/console/ with CONSOLE_SCREENSHOTS=1 (how the docs' are made).

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

const sampleFiles = [
  ...readdirSync('/work/shared/samples').filter(f => f.endsWith('.json')).map(f => join('/work/shared/samples', f)),
  ...['create_tenant.json', 'create_saas_user.json'].map(f => join('examples', f))
].filter(existsSync)

t.test('sign in, find the samples, open an event, filter, replay a quarantined item: all on 127.0.0.1', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium)` }, async t => {
  const shots = process.env.CONSOLE_SCREENSHOTS === '1' ? 'docs/console' : tempDir(t)
  mkdirSync(shots, { recursive: true })
  const { app } = await buildApp(t, { CONSOLE_PASSWORD })
  const origin = await app.listen({ host: '127.0.0.1', port: 0 })

  // The seed samples, through the API as EventBridge sends them, and a little more for the pages to show.
  const post = async (body: unknown) => await fetch(`${origin}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify(body) })
  const samples = sampleFiles.map(f => JSON.parse(readFileSync(f, 'utf8')) as { id: string, detail: { event_type: string } })
  t.ok(samples.length >= 2, 'samples found')
  for (const s of samples) t.equal((await post(s)).status, 200)
  const tenantId = 'fc84307d-e285-4854-8c16-21a6871a2a13'
  const userId = '66ccc133-67ea-4be4-9c1d-7bddf325a790'
  const time = new Date(Date.now() - 60_000).toISOString()
  for (const e of [events.createEnv(1, 'prod', { time }), events.createRole('admin', 'Administrator', { time }),
    events.createTenantUser(tenantId, userId, { department: 'ops' }, [{ id: 1, roles: ['admin'] }], { time })]) t.equal((await post(e)).status, 200)
  t.equal((await post({ ...samples[0], id: 'refused-sample', detail: { event_type: 'create_tenant', event: '{"log_id": 1}' } })).status, 400, 'an invalid item is quarantined')
  // An item an older rule refused, valid today: the one to replay.
  const replayable = events.createTenant('tenant-replayed', { name: 'Replayed Tenant' }, { time })
  await app.repository.quarantine([{ envelopeId: replayable.id, field: '/detail/event', error: 'refused by an older rule', ...quarantineCopy(replayable, { field: '', message: 'old' }) }])

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(async () => { await browser.close() })
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()
  const requests: string[] = []
  page.on('request', r => { requests.push(r.url()) })
  const shot = async (p: Page, name: string) => { await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true }) }

  // Sign-in: the form is what an anonymous visit gets.
  await page.goto(`${origin}/console/`)
  t.equal(new URL(page.url()).pathname, '/console/sign-in')
  await shot(page, 'sign-in')
  await page.getByLabel('Console password').fill('a-wrong-password-entirely')
  await page.getByRole('button', { name: 'Sign in' }).click()
  t.equal(await page.getByRole('alert').textContent(), 'Wrong password.')
  await page.getByLabel('Console password').fill(CONSOLE_PASSWORD)
  // Keyboard only: Enter submits.
  await page.getByLabel('Console password').press('Enter')
  await page.waitForURL(`${origin}/console/`)
  const cookies = await context.cookies()
  t.match(cookies, [{ name: 'receiver_console', httpOnly: true, sameSite: 'Strict', path: '/console' }])

  // Overview: the samples' types in the chart, the quarantine's size.
  const chart = page.locator('svg.chart').first()
  for (const s of samples) t.match(await chart.getAttribute('aria-label'), s.detail.event_type)
  t.match(await page.locator('main').textContent(), /2 items/)
  await shot(page, 'overview')

  // Events: the samples listed; open one.
  await page.getByRole('link', { name: 'Events', exact: true }).click()
  for (const s of samples) await t.resolves(page.getByRole('link', { name: s.id }).first().waitFor(), `${s.id} listed`)
  await shot(page, 'events')
  const userEvent = samples.find(s => s.detail.event_type === 'create_saas_user')!.id
  await page.getByRole('link', { name: userEvent }).first().click()
  t.equal(await page.locator('h1').textContent(), `Event ${userEvent}`)
  t.match(await page.locator('main').textContent(), /Rows it wrote[\s\S]*user/)
  t.notMatch(await page.content(), 'sample_api_key_sample', 'the API key in the event is shown redacted')
  await shot(page, 'event')

  // Filter by type.
  await page.getByRole('link', { name: 'Events', exact: true }).click()
  await page.getByLabel('Type').fill('create_tenant_user')
  await page.getByLabel('Outcome').selectOption('applied')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.waitForURL(/type=create_tenant_user/)
  t.equal(await page.locator('tbody tr').count(), 1, 'one create_tenant_user event')
  await shot(page, 'events-filtered')

  // Tenant and user pages.
  await page.getByRole('link', { name: 'Tenants', exact: true }).click()
  await page.getByRole('searchbox').fill('amazon')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: tenantId }).click()
  t.match(await page.locator('main').textContent(), /env 1: admin/)
  await shot(page, 'tenant')
  await page.getByRole('link', { name: userId }).click()
  t.match(await page.locator('main').textContent(), /Last changed by/)
  await shot(page, 'user')

  // Quarantine: open the replayable item and replay it.
  await page.getByRole('link', { name: 'Quarantine', exact: true }).click()
  await shot(page, 'quarantine')
  const row = page.locator('tr', { hasText: 'refused by an older rule' })
  await row.getByRole('link').click()
  await shot(page, 'quarantine-item')
  await page.getByRole('button', { name: 'Replay' }).click()
  t.match(await page.getByRole('status').textContent(), `recorded as event ${replayable.id} (applied) and removed from the quarantine`)
  await shot(page, 'replayed')
  await page.getByRole('link', { name: `Open event ${replayable.id}` }).click()
  t.match(await page.locator('main').textContent(), /tenant\s*id=tenant-replayed/)

  // Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 })
  await page.goto(`${origin}/console/`)
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'), 'no horizontal scrolling at 390 px')
  await shot(page, 'overview-phone')
  // The first Tab goes to the skip link.
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content')

  // Sign out.
  await page.getByRole('button', { name: 'Sign out' }).click()
  t.equal(new URL(page.url()).pathname, '/console/sign-in')

  const elsewhere = requests.filter(url => !url.startsWith(`${origin}/`))
  t.same(elsewhere, [], 'no request left 127.0.0.1')
  t.ok(requests.some(url => url.endsWith('/console/assets/console.css')), 'the stylesheet was loaded')
})
