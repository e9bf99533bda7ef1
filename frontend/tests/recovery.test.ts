// Account recovery and share notices (issue 16): the notices store, the header bell,
// the forgot-password and reset-password pages, and the admin recovery actions.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { setAccessToken } from '@/api/client'
import NotificationsBell from '@/components/NotificationsBell.vue'
import ForgotPasswordView from '@/views/ForgotPasswordView.vue'
import ResetPasswordView from '@/views/ResetPasswordView.vue'
import AdminUserRecovery from '@/views/admin/AdminUserRecovery.vue'
import { useNotificationsStore } from '@/stores/notifications'
import { json, mockFetch } from './helpers'

const notice = (id: string, read: boolean, filename = `${id}.pdf`) => ({
  id,
  kind: 'share_received',
  created_at: '2026-01-01T00:00:00Z',
  read_at: read ? '2026-01-02T00:00:00Z' : null,
  document_id: `doc-${id}`,
  filename,
  from_handle: 'bob',
})

beforeAll(() => {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void; close?: () => void }
  if (!proto.showModal) proto.showModal = function (this: HTMLDialogElement) { this.setAttribute('open', '') }
  if (!proto.close) proto.close = function (this: HTMLDialogElement) { this.removeAttribute('open') }
})

let pinia: Pinia
let router: Router
beforeEach(async () => {
  pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'documents', component: { template: '<div />' } },
      { path: '/login', name: 'login', component: { template: '<div />' } },
      { path: '/shared', name: 'shared', component: { template: '<div />' } },
      { path: '/forgot-password', name: 'forgot-password', component: ForgotPasswordView },
      { path: '/reset-password', name: 'reset-password', component: ResetPasswordView },
      { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
    ],
  })
  await router.push('/')
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('notifications store', () => {
  it('loads the notices and marks some or all read, the count following at once', async () => {
    let unread = 2
    const { calls } = mockFetch({
      'GET /api/notifications': () => json(200, { items: [notice('a', false), notice('b', false), notice('c', true)], unread }),
      'POST /api/notifications/read': () => new Response(null, { status: 204 }),
    })
    const store = useNotificationsStore()
    await store.load()
    expect(store.unread).toBe(2)
    expect(store.items.map((n) => n.id)).toEqual(['a', 'b', 'c'])

    unread = 1
    const pending = store.markRead(['a'])
    expect(store.unread).toBe(1)
    expect(store.items[0].read_at).not.toBeNull()
    await pending
    const post = calls.find((c) => c.method === 'POST')!
    expect(post.body).toEqual({ ids: ['a'] })

    unread = 0
    await store.markRead()
    expect(calls.filter((c) => c.method === 'POST').at(-1)!.body).toEqual({})
    expect(store.unread).toBe(0)
  })

  it('keeps an error to show instead of throwing', async () => {
    mockFetch({ 'GET /api/notifications': () => json(500, { code: 'internal_error', message: 'Internal error' }) })
    const store = useNotificationsStore()
    await store.load()
    expect(store.error).toBe('Internal error')
    expect(store.loaded).toBe(true)
  })
})

describe('NotificationsBell', () => {
  it('shows the unread count, lists notices and opens a document, marking it read', async () => {
    const { calls } = mockFetch({
      'GET /api/notifications': () => json(200, { items: [notice('a', false, 'Rechnung März.pdf'), notice('b', true)], unread: 1 }),
      'POST /api/notifications/read': () => new Response(null, { status: 204 }),
    })
    const w = mount(NotificationsBell, { global: { plugins: [pinia, router] }, attachTo: document.body })
    await flushPromises()
    expect(w.get('[data-testid=notifications-unread]').text()).toBe('1')
    expect(w.get('[data-testid=notifications-bell]').attributes('aria-label')).toBe('Notifications, 1 unread')

    await w.get('[data-testid=notifications-bell]').trigger('click')
    await flushPromises()
    const item = w.get('[data-notice="Rechnung März.pdf"]')
    expect(item.text()).toContain('bob shared Rechnung März.pdf with you')
    await item.trigger('click')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/documents/doc-a')
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ ids: ['a'] })
    expect(w.find('[data-testid=notifications-panel]').exists()).toBe(false)
    w.unmount()
  })

  it('says so when there is nothing', async () => {
    mockFetch({ 'GET /api/notifications': () => json(200, { items: [], unread: 0 }) })
    const w = mount(NotificationsBell, { global: { plugins: [pinia, router] }, attachTo: document.body })
    await flushPromises()
    expect(w.find('[data-testid=notifications-unread]').exists()).toBe(false)
    await w.get('[data-testid=notifications-bell]').trigger('click')
    await flushPromises()
    expect(w.text()).toContain('Nothing new')
    w.unmount()
  })
})

describe('ForgotPasswordView', () => {
  it('sends the address without a token and always gives the same answer', async () => {
    const { calls } = mockFetch({ 'POST /api/auth/password-reset': () => new Response(null, { status: 202 }) })
    const w = mount(ForgotPasswordView, { global: { plugins: [pinia, router] } })
    await w.get('#reset-email').setValue('nobody@example.com')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(calls[0].body).toEqual({ email: 'nobody@example.com' })
    expect(calls[0].headers.Authorization).toBeUndefined()
    expect(w.get('[data-testid=reset-requested]').text()).toContain('If an account uses nobody@example.com')
  })

  it('checks the address first and counts down after 429', async () => {
    const { calls } = mockFetch({
      'POST /api/auth/password-reset': () => json(429, { code: 'rate_limited', message: 'Too many' }, { 'Retry-After': '120' }),
    })
    const w = mount(ForgotPasswordView, { global: { plugins: [pinia, router] } })
    await w.get('#reset-email').setValue('not an address')
    await w.get('form').trigger('submit')
    expect(calls).toHaveLength(0)
    expect(w.text()).toContain('like name@example.com')
    await w.get('#reset-email').setValue('a@example.com')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(w.text()).toContain('Too many requests. Try again in 2 min.')
  })
})

describe('ResetPasswordView', () => {
  it('sets the new password with the token from the link', async () => {
    const { calls } = mockFetch({ 'POST /api/auth/password-reset/confirm': () => new Response(null, { status: 204 }) })
    await router.push('/reset-password?token=tok123')
    const w = mount(ResetPasswordView, { global: { plugins: [pinia, router] } })
    await w.get('#reset-new').setValue('short')
    await w.get('#reset-repeat').setValue('short')
    await w.get('form').trigger('submit')
    expect(w.text()).toContain('At least 8 characters.')
    expect(calls).toHaveLength(0)
    await w.get('#reset-new').setValue('a long new password')
    await w.get('#reset-repeat').setValue('a long new password')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(calls[0].body).toEqual({ token: 'tok123', password: 'a long new password' })
    expect(w.get('[data-testid=reset-done]').text()).toContain('Your password was changed')
  })

  it('explains an expired or used link and offers a new one', async () => {
    mockFetch({
      'POST /api/auth/password-reset/confirm': () => json(400, { code: 'reset_token_invalid', message: 'invalid' }),
    })
    await router.push('/reset-password?token=old')
    const w = mount(ResetPasswordView, { global: { plugins: [pinia, router] } })
    await w.get('#reset-new').setValue('a long new password')
    await w.get('#reset-repeat').setValue('a long new password')
    await w.get('form').trigger('submit')
    await flushPromises()
    const box = w.get('[data-testid=reset-invalid]')
    expect(box.text()).toContain('expired or was already used')
    expect(box.get('a').attributes('href')).toBe('/forgot-password')
  })

  it('says a link without a token is incomplete', async () => {
    await router.push('/reset-password')
    const w = mount(ResetPasswordView, { global: { plugins: [pinia, router] } })
    expect(w.get('[data-testid=reset-invalid]').text()).toContain('incomplete')
  })
})

describe('AdminUserRecovery', () => {
  const user = {
    id: 'u1',
    handle: 'frank',
    email: 'frank@example.com',
    role: 'user' as const,
    is_active: true,
    totp_enabled: true,
    password_must_change: false,
    used_bytes: 0,
    limit_bytes: 100,
    created_at: '2026-01-01T00:00:00Z',
  }

  it('resets after confirming and shows the temporary password once', async () => {
    const { calls } = mockFetch({
      'POST /api/admin/users/u1/reset-password': () => json(200, { temporary_password: 'abcde-fghjk-mnpqr-stvwx' }),
    })
    const w = mount(AdminUserRecovery, { props: { user }, global: { plugins: [pinia, router] }, attachTo: document.body })
    await w.get('[data-testid=reset-password]').trigger('click')
    expect(calls).toHaveLength(0)
    await w.get('[data-testid=confirm]').trigger('click')
    await flushPromises()
    expect(calls[0].method).toBe('POST')
    expect((w.get('[data-testid=temporary-password]').element as HTMLTextAreaElement).value).toBe('abcde-fghjk-mnpqr-stvwx')
    expect(w.emitted('changed')).toHaveLength(1)
    await w.get('[data-testid=temporary-password-done]').trigger('click')
    expect(w.find('[data-testid=temporary-password]').exists()).toBe(false)
    w.unmount()
  })

  it('turns off 2FA after confirming; the button only shows when 2FA is on', async () => {
    const { calls } = mockFetch({ 'POST /api/admin/users/u1/disable-totp': () => new Response(null, { status: 204 }) })
    const w = mount(AdminUserRecovery, { props: { user }, global: { plugins: [pinia, router] }, attachTo: document.body })
    await w.get('[data-testid=disable-totp]').trigger('click')
    await w.get('[data-testid=confirm]').trigger('click')
    await flushPromises()
    expect(calls.map((c) => c.url)).toEqual(['/api/admin/users/u1/disable-totp'])
    expect(w.emitted('changed')).toHaveLength(1)
    w.unmount()
    const off = mount(AdminUserRecovery, { props: { user: { ...user, totp_enabled: false } }, global: { plugins: [pinia, router] } })
    expect(off.find('[data-testid=disable-totp]').exists()).toBe(false)
  })
})
