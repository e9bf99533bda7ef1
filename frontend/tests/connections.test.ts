import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { api, setAccessToken } from '@/api/client'
import ApiTokenSettings from '@/views/settings/ApiTokenSettings.vue'
import WebhookSettings from '@/views/settings/WebhookSettings.vue'
import MailIntakeSettings from '@/views/settings/MailIntakeSettings.vue'
import WatchedFolderSettings from '@/views/settings/WatchedFolderSettings.vue'
import { defaultPort, describeCheck, tokenExpired } from '@/lib/connections'
import { useToastStore } from '@/stores/toasts'
import { USER, json, mockFetch, type Call, installDialog } from './helpers'

const TOKEN = {
  id: 't1',
  name: 'Office scanner',
  scopes: ['documents:write'],
  prefix: 'dvpat_ab12cd',
  created_at: '2026-11-01T10:00:00Z',
  expires_at: null,
  last_used_at: '2026-12-01T09:00:00Z',
  last_used_ip: '203.0.113.7',
}
const HOOK = {
  id: 'w1',
  url: 'https://hooks.example.com/docuvault',
  events: ['document.created'],
  description: 'Home automation',
  enabled: true,
  created_at: '2026-11-01T10:00:00Z',
  last_delivery_at: null,
  last_status: null,
}
const delivery = (id: string, extra: object = {}) => ({
  id,
  event: 'webhook.test',
  status: 'delivered',
  attempts: 1,
  last_attempt_at: '2026-12-01T10:00:01Z',
  next_attempt_at: null,
  response_status: 200,
  latency_ms: 42,
  error: null,
  created_at: '2026-12-01T10:00:00Z',
  ...extra,
})
const ACCOUNT = {
  id: 'm1',
  name: 'Scans',
  host: 'imap.example.com',
  port: 993,
  tls: 'tls',
  username: 'scans@example.com',
  mailbox: 'INBOX',
  after: 'seen',
  move_to: null,
  folder_id: null,
  topic_ids: [],
  include_body: false,
  enabled: true,
  last_checked_at: '2026-12-01T10:00:00Z',
  last_error: null,
  created_at: '2026-11-01T10:00:00Z',
}

beforeAll(installDialog)

let pinia: Pinia
let router: Router
beforeEach(async () => {
  pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'settings', component: { template: '<div />' } },
      { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
    ],
  })
  await router.push('/')
  await router.isReady()
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})
const opts = () => ({ global: { plugins: [pinia, router] }, attachTo: document.body })
const dialog = () => document.querySelector('dialog') as HTMLDialogElement
const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector(sel) as T
async function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel)
  el.value = value
  el.dispatchEvent(new Event('input'))
  await flushPromises()
}
async function choose(sel: string, value: string) {
  const el = $<HTMLSelectElement>(sel)
  el.value = value
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}
async function chooseIndex(sel: string, index: number) {
  const el = $<HTMLSelectElement>(sel)
  el.selectedIndex = index
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}
async function click(sel: string) {
  $<HTMLElement>(sel).click()
  await flushPromises()
}
async function setChecked(sel: string, on: boolean) {
  const el = $<HTMLInputElement>(sel)
  if (el.checked !== on) el.click()
  await flushPromises()
}
const calls = (c: Call[], m: string) => c.filter((x) => x.method === m)

describe('connections helpers', () => {
  it('knows expired tokens, default ports and how to say what a check did', () => {
    const now = Date.parse('2026-12-01T00:00:00Z')
    expect(tokenExpired({ expires_at: null }, now)).toBe(false)
    expect(tokenExpired({ expires_at: '2026-11-30T23:59:59Z' }, now)).toBe(true)
    expect(tokenExpired({ expires_at: '2026-12-31T00:00:00Z' }, now)).toBe(false)
    expect(defaultPort('tls')).toBe(993)
    expect(defaultPort('starttls')).toBe(143)
    expect(describeCheck({ messages: 1, imported: 2, failed: 1, skipped: 0 })).toBe('1 new message: 2 imported, 1 failed, 0 skipped')
  })

  it('api.post reads the body of a 202 (a queued delivery) and nothing from a 204', async () => {
    mockFetch({
      'POST /api/webhooks/w1/test': () => json(202, delivery('d1', { status: 'pending' })),
      'DELETE /api/webhooks/w1': () => new Response(null, { status: 204 }),
    })
    expect(await api.post<{ id: string }>('/api/webhooks/w1/test')).toMatchObject({ id: 'd1', status: 'pending' })
    expect(await api.del('/api/webhooks/w1')).toBeUndefined()
  })
})

describe('ApiTokenSettings', () => {
  it('lists tokens with scopes, prefix, expiry and last use (time and IP)', async () => {
    mockFetch({
      'GET /api/auth/tokens': () =>
        json(200, { tokens: [TOKEN, { ...TOKEN, id: 't2', name: 'Old', scopes: ['documents:read', 'topics:read'], expires_at: '2020-01-01T00:00:00Z', last_used_at: null, last_used_ip: null }] }),
    })
    const w = mount(ApiTokenSettings, opts())
    await flushPromises()
    const rows = w.findAll('[data-token]')
    expect(rows).toHaveLength(2)
    expect(rows[0].text()).toContain('dvpat_ab12cd…')
    expect(rows[0].text()).toContain('Change documents')
    expect(rows[0].text()).toContain('never expires')
    expect(rows[0].get('[data-testid=token-last-used]').text()).toContain('from 203.0.113.7')
    expect(rows[1].text()).toContain('Read documents')
    expect(rows[1].text()).toContain('Read topics')
    expect(rows[1].get('[data-status=expired]').text()).toBe('Expired')
    expect(rows[1].get('[data-testid=token-last-used]').text()).toBe('Never used')
    w.unmount()
  })

  it('shows the empty state, and a load error with a retry', async () => {
    let fail = true
    mockFetch({ 'GET /api/auth/tokens': () => (fail ? json(500, { code: 'internal_error', message: 'Internal error' }) : json(200, { tokens: [] })) })
    const w = mount(ApiTokenSettings, opts())
    await flushPromises()
    expect(w.get('[role=alert]').text()).toContain('Internal error')
    fail = false
    await w.get('button.btn-secondary').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid=tokens-empty]').exists()).toBe(true)
    w.unmount()
  })

  it('creates a token with the chosen scopes and expiry and shows it once with a copy button', async () => {
    const writeText = vi.fn(async () => undefined)
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    const created = { ...TOKEN, id: 't9', name: 'CI', scopes: ['documents:read', 'topics:write'], last_used_at: null, last_used_ip: null, expires_at: '2027-01-01T00:00:00Z' }
    const { calls: c } = mockFetch({
      'GET /api/auth/tokens': () => json(200, { tokens: [] }),
      'POST /api/auth/tokens': () => json(201, { token: 'dvpat_secretvalue123', info: created }),
    })
    const w = mount(ApiTokenSettings, opts())
    await flushPromises()
    await w.get('[data-testid=new-token]').trigger('click')
    // Nothing named: refused before any request.
    await click('[data-testid=create-token]')
    expect($('[data-testid=token-error]').textContent).toContain('name')
    await type('#token-name', '  CI  ')
    await setChecked('[data-scope="topics:write"]', true)
    expect($<HTMLSelectElement>('#token-expiry').selectedOptions[0].textContent).toBe('90 days')
    await chooseIndex('#token-expiry', 0)
    await click('[data-testid=create-token]')
    expect(calls(c, 'POST')[0].body).toEqual({ name: 'CI', scopes: ['documents:read', 'topics:write'], expires_in_days: 30 })
    const secret = $<HTMLTextAreaElement>('[data-testid=token-secret]')
    expect(secret.value).toBe('dvpat_secretvalue123')
    expect(dialog().textContent).toContain('you won’t see it again')
    await click('[data-testid=copy-secret]')
    expect(writeText).toHaveBeenCalledWith('dvpat_secretvalue123')
    expect($('[data-testid=copy-secret]').textContent).toContain('Copied')
    await click('[data-testid=token-done]')
    expect(document.querySelector('[data-testid=token-secret]')).toBeNull()
    expect(w.get('[data-token=CI]').text()).toContain('Change topics')
    expect(w.text()).not.toContain('dvpat_secretvalue123')
    w.unmount()
  })

  it('"Never" sends no expiry; a 422 is shown in the form', async () => {
    const { calls: c } = mockFetch({
      'GET /api/auth/tokens': () => json(200, { tokens: [] }),
      'POST /api/auth/tokens': () => json(422, { code: 'validation_failed', message: 'name: too long' }),
    })
    const w = mount(ApiTokenSettings, opts())
    await flushPromises()
    await w.get('[data-testid=new-token]').trigger('click')
    await type('#token-name', 'x')
    await chooseIndex('#token-expiry', 3)
    expect($<HTMLSelectElement>('#token-expiry').selectedOptions[0].textContent).toBe('Never')
    await click('[data-testid=create-token]')
    expect(calls(c, 'POST')[0].body).toEqual({ name: 'x', scopes: ['documents:read'] })
    expect($('[data-testid=token-error]').textContent).toBe('name: too long')
    w.unmount()
  })

  it('revokes only after a confirmation', async () => {
    const { calls: c } = mockFetch({
      'GET /api/auth/tokens': () => json(200, { tokens: [TOKEN] }),
      'DELETE /api/auth/tokens/t1': () => new Response(null, { status: 204 }),
    })
    const w = mount(ApiTokenSettings, opts())
    await flushPromises()
    await w.get('[data-testid=revoke-token]').trigger('click')
    expect(calls(c, 'DELETE')).toHaveLength(0)
    expect(dialog().textContent).toContain('stops working at once')
    await click('dialog [data-testid=confirm]')
    expect(calls(c, 'DELETE').map((x) => x.url)).toEqual(['/api/auth/tokens/t1'])
    expect(w.find('[data-token]').exists()).toBe(false)
    expect(w.find('[data-testid=tokens-empty]').exists()).toBe(true)
    expect(useToastStore().items.at(-1)?.text).toBe('Revoked “Office scanner”')
    w.unmount()
  })
})

describe('WebhookSettings', () => {
  it('shows a forbidden target inline under the URL, then creates one and shows the secret once', async () => {
    let forbid = true
    const { calls: c } = mockFetch({
      'GET /api/webhooks': () => json(200, { webhooks: [] }),
      'POST /api/webhooks': () =>
        forbid
          ? json(422, { code: 'webhook_target_forbidden', message: '10.0.0.5 is a private address' })
          : json(201, { secret: 'whsec_c2VjcmV0', webhook: { ...HOOK, url: 'https://hooks.example.com/x', events: ['document.created', 'share.created'] } }),
    })
    const w = mount(WebhookSettings, opts())
    await flushPromises()
    expect(w.find('[data-testid=webhooks-empty]').exists()).toBe(true)
    await w.get('[data-testid=new-webhook]').trigger('click')
    await type('#webhook-url', 'ftp://nope')
    await click('[data-testid=create-webhook]')
    expect($('[data-testid=webhook-url-error]').textContent).toContain('http:// or https://')
    expect(calls(c, 'POST')).toHaveLength(0)
    await type('#webhook-url', 'http://10.0.0.5/hook')
    await click('[data-testid=create-webhook]')
    const err = $('[data-testid=webhook-url-error]')
    expect(err.textContent).toBe('This address is not allowed: 10.0.0.5 is a private address')
    expect($('#webhook-url').getAttribute('aria-invalid')).toBe('true')
    expect($('#webhook-url').getAttribute('aria-describedby')).toBe('webhook-url-error')
    forbid = false
    await type('#webhook-url', 'https://hooks.example.com/x')
    await setChecked('[data-event="document.processed"]', false)
    await setChecked('[data-event="share.created"]', true)
    await type('#webhook-desc', 'Phone')
    await click('[data-testid=create-webhook]')
    expect(calls(c, 'POST')[1].body).toEqual({ url: 'https://hooks.example.com/x', events: ['document.created', 'share.created'], description: 'Phone' })
    expect($<HTMLTextAreaElement>('[data-testid=webhook-secret]').value).toBe('whsec_c2VjcmV0')
    expect(dialog().textContent).toContain('you won’t see it again')
    await click('[data-testid=webhook-done]')
    expect(w.get('[data-webhook="https://hooks.example.com/x"]').text()).toContain('share.created')
    w.unmount()
  })

  it('turns a webhook off, sends a test and shows the delivery log', async () => {
    let deliveries = [delivery('d0', { event: 'document.created', status: 'failed', attempts: 8, response_status: 500, latency_ms: 12, error: 'HTTP 500 from target' })]
    const { calls: c } = mockFetch({
      'GET /api/webhooks': () => json(200, { webhooks: [HOOK] }),
      'PATCH /api/webhooks/w1': (call) => json(200, { ...HOOK, ...(call.body as object) }),
      'POST /api/webhooks/w1/test': () => {
        deliveries = [delivery('d1'), ...deliveries]
        return json(202, delivery('d1', { status: 'pending', attempts: 0, response_status: null, latency_ms: null }))
      },
      'GET /api/webhooks/w1/deliveries': () => json(200, { deliveries }),
    })
    const w = mount(WebhookSettings, opts())
    await flushPromises()
    const row = () => w.get('[data-webhook="https://hooks.example.com/docuvault"]')
    expect(row().text()).toContain('Nothing sent yet')
    await row().get('[data-testid=webhook-enabled]').setValue(false)
    await flushPromises()
    expect(calls(c, 'PATCH')[0].body).toEqual({ enabled: false })
    expect((row().get('[data-testid=webhook-enabled]').element as HTMLInputElement).checked).toBe(false)
    expect(useToastStore().items.at(-1)?.text).toBe('Webhook turned off')
    await row().get('[data-testid=webhook-enabled]').setValue(true)
    await flushPromises()
    await row().get('[data-testid=webhook-test]').trigger('click')
    await flushPromises()
    expect(calls(c, 'POST').map((x) => x.url)).toEqual(['/api/webhooks/w1/test'])
    const items = row().findAll('[data-delivery]')
    expect(items.map((i) => i.attributes('data-status'))).toEqual(['delivered', 'failed'])
    expect(items[0].text()).toContain('webhook.test')
    expect(items[0].text()).toContain('HTTP 200')
    expect(items[0].text()).toContain('42 ms')
    expect(items[1].text()).toContain('8 attempts')
    expect(items[1].get('[data-testid=delivery-error]').text()).toBe('HTTP 500 from target')
    // The row's summary follows the newest delivery.
    expect(row().get('[data-testid=webhook-last] [data-status]').attributes('data-status')).toBe('delivered')
    w.unmount()
  })

  it('polls a pending delivery until it settles', async () => {
    vi.useFakeTimers()
    try {
      let n = 0
      mockFetch({
        'GET /api/webhooks': () => json(200, { webhooks: [HOOK] }),
        'GET /api/webhooks/w1/deliveries': () => json(200, { deliveries: [delivery('d1', n++ < 1 ? { status: 'pending' } : {})] }),
      })
      const w = mount(WebhookSettings, opts())
      await flushPromises()
      await w.get('[data-testid=webhook-deliveries]').trigger('click')
      await flushPromises()
      expect(w.get('[data-delivery=d1]').attributes('data-status')).toBe('pending')
      await vi.advanceTimersByTimeAsync(2100)
      await flushPromises()
      expect(w.get('[data-delivery=d1]').attributes('data-status')).toBe('delivered')
      w.unmount()
    } finally {
      vi.useRealTimers()
    }
  })

  it('deletes only after a confirmation', async () => {
    const { calls: c } = mockFetch({
      'GET /api/webhooks': () => json(200, { webhooks: [HOOK] }),
      'DELETE /api/webhooks/w1': () => new Response(null, { status: 204 }),
    })
    const w = mount(WebhookSettings, opts())
    await flushPromises()
    await w.get('[data-testid=webhook-delete]').trigger('click')
    expect(calls(c, 'DELETE')).toHaveLength(0)
    await click('dialog [data-testid=confirm]')
    expect(calls(c, 'DELETE').map((x) => x.url)).toEqual(['/api/webhooks/w1'])
    expect(w.find('[data-testid=webhooks-empty]').exists()).toBe(true)
    w.unmount()
  })
})

describe('MailIntakeSettings', () => {
  const library = {
    'GET /api/topics': () => json(200, { items: [{ id: 'tp1', name: 'Bills', description: null, color: null, kind: 'user', document_count: 0, created_at: '2026-01-01T00:00:00Z' }] }),
    'GET /api/folders': () => json(200, { items: [{ id: 'f1', parent_id: null, name: 'Inbox scans', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', document_count: 0 }] }),
  }

  it('shows a failed check prominently, and an empty state without accounts', async () => {
    mockFetch({ 'GET /api/intake/mail': () => json(200, { accounts: [{ ...ACCOUNT, last_error: 'LOGIN failed: authentication failed' }] }) })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    const err = w.get('[data-account=Scans] [data-testid=mail-last-error]')
    expect(err.attributes('role')).toBe('alert')
    expect(err.text()).toContain('Last check failed: LOGIN failed: authentication failed')
    expect(w.get('[data-account=Scans]').text()).toContain('scans@example.com @ imap.example.com:993')
    w.unmount()
    mockFetch({ 'GET /api/intake/mail': () => json(200, { accounts: [] }) })
    const e = mount(MailIntakeSettings, opts())
    await flushPromises()
    expect(e.find('[data-testid=mail-empty]').exists()).toBe(true)
    e.unmount()
  })

  it('adds an account with every field of the form', async () => {
    const { calls: c } = mockFetch({
      ...library,
      'GET /api/intake/mail': () => json(200, { accounts: [] }),
      'POST /api/intake/mail': (call) => json(201, { ...ACCOUNT, ...(call.body as object), id: 'm2' }),
    })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    await w.get('[data-testid=new-mail-account]').trigger('click')
    await flushPromises()
    await type('#mail-name', 'Bills')
    await type('#mail-host', 'mail.example.org')
    await choose('#mail-tls', 'starttls')
    expect($<HTMLInputElement>('#mail-port').value).toBe('143')
    await type('#mail-user', 'me')
    await click('[data-testid=mail-save]')
    expect($('[data-testid=mail-form-error]').textContent).toContain('password')
    await type('#mail-password', 'hunter2')
    await type('#mail-mailbox', 'Scans')
    await choose('#mail-after', 'move')
    await click('[data-testid=mail-save]')
    expect($('[data-testid=mail-form-error]').textContent).toContain('move')
    await type('#mail-move-to', 'Done')
    await choose('#mail-folder', 'f1')
    await setChecked('input[value=tp1]', true)
    await click('[data-testid=mail-save]')
    expect(calls(c, 'POST')).toHaveLength(1)
    expect(calls(c, 'POST')[0].body).toEqual({
      name: 'Bills',
      host: 'mail.example.org',
      port: 143,
      tls: 'starttls',
      username: 'me',
      password: 'hunter2',
      mailbox: 'Scans',
      after: 'move',
      move_to: 'Done',
      folder_id: 'f1',
      topic_ids: ['tp1'],
      include_body: false,
      enabled: true,
    })
    expect(document.querySelector('dialog')).toBeNull()
    expect(w.get('[data-account=Bills]').text()).toContain('moved to Done')
    w.unmount()
  })

  it('edits without sending the password unless one is typed', async () => {
    const { calls: c } = mockFetch({
      ...library,
      'GET /api/intake/mail': () => json(200, { accounts: [ACCOUNT] }),
      'PATCH /api/intake/mail/m1': (call) => json(200, { ...ACCOUNT, ...(call.body as object) }),
    })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    await w.get('[data-testid=mail-edit]').trigger('click')
    await flushPromises()
    expect($<HTMLInputElement>('#mail-host').value).toBe('imap.example.com')
    await type('#mail-name', 'Scans 2')
    await setChecked('#mail-form input[type=checkbox]:not([value])', true)
    await click('[data-testid=mail-save]')
    const body = calls(c, 'PATCH')[0].body as Record<string, unknown>
    expect(body.name).toBe('Scans 2')
    expect(body.include_body).toBe(true)
    expect('password' in body).toBe(false)
    expect(w.find('[data-account="Scans 2"]').exists()).toBe(true)
    w.unmount()
  })

  it('"Check now" shows the counts, refreshes the account and its log links documents', async () => {
    let checked = false
    mockFetch({
      'GET /api/intake/mail': () => json(200, { accounts: [ACCOUNT] }),
      'POST /api/intake/mail/m1/check': () => {
        checked = true
        return json(200, { messages: 2, imported: 2, failed: 1, skipped: 0 })
      },
      'GET /api/intake/mail/m1': () => json(200, { ...ACCOUNT, last_checked_at: new Date().toISOString() }),
      'GET /api/intake/mail/m1/items': () =>
        json(200, {
          items: checked
            ? [
                { id: 'i1', message_id: '<a@x>', subject: 'Invoice März', filename: 'rechnung-ä.pdf', status: 'imported', reason: null, document_id: 'doc1', created_at: '2026-12-01T10:00:00Z' },
                { id: 'i2', message_id: '<a@x>', subject: 'Invoice März', filename: 'bomb.zip', status: 'failed', reason: 'unsupported type application/zip', document_id: null, created_at: '2026-12-01T10:00:00Z' },
              ]
            : [],
        }),
    })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    await w.get('[data-testid=mail-items-toggle]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid=mail-items-empty]').exists()).toBe(true)
    await w.get('[data-testid=mail-check]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid=mail-check-result]').text()).toBe('2 new messages: 2 imported, 1 failed, 0 skipped')
    expect(w.get('[data-testid=mail-last-checked]').text()).toBe('Last checked just now')
    const items = w.findAll('[data-item]')
    expect(items).toHaveLength(2)
    expect(items[0].text()).toContain('rechnung-ä.pdf')
    expect(items[0].get('a').attributes('href')).toBe('/documents/doc1')
    expect(items[1].attributes('data-status')).toBe('failed')
    expect(items[1].text()).toContain('unsupported type application/zip')
    expect(items[1].find('a').exists()).toBe(false)
    w.unmount()
  })

  it('a failed check shows the error and the account\'s new last error', async () => {
    mockFetch({
      'GET /api/intake/mail': () => json(200, { accounts: [ACCOUNT] }),
      'POST /api/intake/mail/m1/check': () => json(422, { code: 'mail_check_failed', message: 'connection refused by imap.example.com:993' }),
      'GET /api/intake/mail/m1': () => json(200, { ...ACCOUNT, last_error: 'connection refused' }),
    })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    await w.get('[data-testid=mail-check]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid=mail-check-error]').text()).toBe('Could not read the mailbox: connection refused by imap.example.com:993')
    expect(w.get('[data-testid=mail-last-error]').text()).toContain('connection refused')
    w.unmount()
  })

  it('deletes only after a confirmation', async () => {
    const { calls: c } = mockFetch({
      'GET /api/intake/mail': () => json(200, { accounts: [ACCOUNT] }),
      'DELETE /api/intake/mail/m1': () => new Response(null, { status: 204 }),
    })
    const w = mount(MailIntakeSettings, opts())
    await flushPromises()
    await w.get('[data-testid=mail-delete]').trigger('click')
    expect(calls(c, 'DELETE')).toHaveLength(0)
    await click('dialog [data-testid=confirm]')
    expect(calls(c, 'DELETE').map((x) => x.url)).toEqual(['/api/intake/mail/m1'])
    expect(w.find('[data-testid=mail-empty]').exists()).toBe(true)
    w.unmount()
  })
})

describe('WatchedFolderSettings', () => {
  it('says when the server watches no folder', async () => {
    mockFetch({ 'GET /api/ingest/status': () => json(200, { enabled: false, folder: null, recent: [] }) })
    const w = mount(WatchedFolderSettings, opts())
    await flushPromises()
    expect(w.get('[data-testid=ingest-off]').text()).toContain('does not watch a folder')
    expect(w.find('[data-testid=ingest-folder]').exists()).toBe(false)
    w.unmount()
  })

  it('shows the drop folder and recent files with reasons and document links', async () => {
    mockFetch({
      'GET /api/ingest/status': () =>
        json(200, {
          enabled: true,
          folder: '/srv/scans/alice',
          recent: [
            { path: 'Bills/scan-001.pdf', status: 'imported', reason: null, document_id: 'doc7', at: '2026-12-01T10:00:00Z' },
            { path: 'notes.exe', status: 'failed', reason: 'unsupported type', document_id: null, at: '2026-12-01T09:00:00Z' },
          ],
        }),
    })
    const w = mount(WatchedFolderSettings, opts())
    await flushPromises()
    expect(w.get('[data-testid=ingest-folder]').text()).toBe('/srv/scans/alice')
    const ok = w.get('[data-path="Bills/scan-001.pdf"]')
    expect(ok.attributes('data-status')).toBe('imported')
    expect(ok.get('a').attributes('href')).toBe('/documents/doc7')
    expect(w.get('[data-path="notes.exe"]').text()).toContain('unsupported type')
    w.unmount()
  })

  it('shows a load error', async () => {
    mockFetch({ 'GET /api/ingest/status': () => json(403, { code: 'admin_not_allowed', message: 'Not for administrators' }) })
    const w = mount(WatchedFolderSettings, opts())
    await flushPromises()
    expect(w.get('[role=alert]').text()).toContain('Not for administrators')
    w.unmount()
  })
})

describe('SettingsView', () => {
  const routes = {
    'GET /api/auth/tokens': () => json(200, { tokens: [] }),
    'GET /api/webhooks': () => json(200, { webhooks: [] }),
    'GET /api/intake/mail': () => json(200, { accounts: [] }),
    'GET /api/ingest/status': () => json(200, { enabled: false, folder: null, recent: [] }),
    'GET /api/auth/config': () => json(200, { ocr_languages: [], ocr_default_languages: 'eng' }),
  }
  it('shows the Connections to regular accounts, each with its empty state', async () => {
    const { calls: c } = mockFetch(routes)
    const { useAuthStore } = await import('@/stores/auth')
    useAuthStore().user = { ...USER } as never
    const { default: SettingsView } = await import('@/views/settings/SettingsView.vue')
    const w = mount(SettingsView, opts())
    await flushPromises()
    expect(w.get('[data-testid=connections-heading]').text()).toBe('Connections')
    for (const t of ['tokens-empty', 'webhooks-empty', 'mail-empty', 'ingest-off']) expect(w.find(`[data-testid=${t}]`).exists()).toBe(true)
    expect(c.map((x) => x.url)).toEqual(expect.arrayContaining(['/api/auth/tokens', '/api/webhooks', '/api/intake/mail', '/api/ingest/status']))
    w.unmount()
  })

  it('leaves them out for administrators (they have no documents)', async () => {
    const { calls: c } = mockFetch(routes)
    const { useAuthStore } = await import('@/stores/auth')
    useAuthStore().user = { ...USER, role: 'admin' } as never
    const { default: SettingsView } = await import('@/views/settings/SettingsView.vue')
    const w = mount(SettingsView, opts())
    await flushPromises()
    expect(w.find('[data-testid=connections-heading]').exists()).toBe(false)
    expect(c.some((x) => /tokens|webhooks|intake|ingest/.test(x.url))).toBe(false)
    w.unmount()
  })
})

describe('SecretOnce', () => {
  it('says so when the clipboard is out of reach, so the value can be copied by hand', async () => {
    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined })
    const exec = vi.fn(() => false)
    ;(document as unknown as { execCommand: unknown }).execCommand = exec
    const { default: SecretOnce } = await import('@/components/SecretOnce.vue')
    const w = mount(SecretOnce, { props: { value: 'whsec_abc', label: 'Signing secret', testid: 's' }, attachTo: document.body })
    expect((w.get('[data-testid=s]').element as HTMLTextAreaElement).value).toBe('whsec_abc')
    expect(w.get('label').attributes('for')).toBe(w.get('[data-testid=s]').attributes('id'))
    await w.get('[data-testid=copy-secret]').trigger('click')
    await flushPromises()
    expect(exec).toHaveBeenCalledWith('copy')
    expect(w.get('[role=alert]').text()).toContain('select the text and copy it yourself')
    w.unmount()
  })
})
