import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import PublicLinkView from '@/views/PublicLinkView.vue'
import PublicLinksPanel from '@/components/PublicLinksPanel.vue'
import { json, mockFetch } from './helpers'

afterEach(() => {
  vi.unstubAllGlobals()
  setAccessToken(null)
  document.body.innerHTML = ''
})

const LOCKED = {
  needs_password: true,
  expires_at: '2030-01-01T00:00:00Z',
  filename: null,
  content_type: null,
  size_bytes: null,
  downloads_left: null,
  download_url: null,
  view_kind: null,
  view_url: null,
  urls_expire_at: null,
}
const OPEN = {
  ...LOCKED,
  filename: 'report.docx',
  content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  size_bytes: 2048,
  downloads_left: 2,
  download_url: 'http://x/api/public/links/tok/download?access=a',
  view_kind: 'download',
  urls_expire_at: '2030-01-01T00:00:00Z',
}

async function page(routes: Parameters<typeof mockFetch>[0]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  const mock = mockFetch(routes)
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/l/:token', component: PublicLinkView }] })
  await router.push('/l/tok')
  await router.isReady()
  const w = mount(PublicLinkView, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return { w, ...mock }
}

describe('public link page', () => {
  it('says plainly that a link is not available', async () => {
    const { w } = await page({ 'GET /api/public/links/tok': () => json(404, { code: 'not_found', message: 'No such resource' }) })
    expect(w.find('[data-testid="link-unavailable"]').text()).toContain('This link is not available')
  })

  it('asks for the password, says when it is wrong, then shows the document without any session', async () => {
    setAccessToken('someone-elses-session')
    const { w, calls } = await page({
      'GET /api/public/links/tok': () => json(200, LOCKED),
      'POST /api/public/links/tok': (c) =>
        (c.body as { password: string }).password === 'right'
          ? json(200, OPEN)
          : json(401, { code: 'link_password_invalid', message: 'The password of this link is not right' }),
    })
    expect(w.find('[data-testid="public-link"]').attributes('data-state')).toBe('locked')
    await w.find('[data-testid="link-password"]').setValue('wrong')
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.text()).toContain('That password is not right.')
    await w.find('[data-testid="link-password"]').setValue('right')
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.find('[data-testid="link-filename"]').text()).toBe('report.docx')
    expect(w.text()).toContain('2 downloads left')
    expect(w.find('[data-testid="link-download"]').exists()).toBe(true)
    // Not shown inline: no viewer, a plain note instead.
    expect(w.find('[data-testid="document-viewer"]').exists()).toBe(false)
    // The anonymous page never sends a session.
    expect(calls.every((c) => !c.headers.Authorization)).toBe(true)
  })
})

describe('public links panel', () => {
  it('creates a link with an expiry in days, shows its URL once, and turns links off', async () => {
    setActivePinia(createPinia())
    setAccessToken('t')
    const link = {
      id: 'l1',
      document_id: 'd1',
      created_at: '2026-01-01T00:00:00Z',
      expires_at: '2030-01-01T00:00:00Z',
      max_downloads: 3,
      download_count: 1,
      access_count: 4,
      has_password: true,
      revoked: false,
      revoked_at: null,
      active: true,
    }
    let items: object[] = []
    const { calls } = mockFetch({
      'GET /api/documents/d1/links': () => json(200, { items }),
      'POST /api/documents/d1/links': () => {
        items = [link]
        return json(201, { ...link, url: 'http://vault/l/secret-token', token: 'secret-token' })
      },
      'DELETE /api/links/l1': () => {
        items = [{ ...link, revoked: true, active: false, revoked_at: '2026-01-02T00:00:00Z' }]
        return new Response(null, { status: 204 })
      },
    })
    const w = mount(PublicLinksPanel, { props: { documentId: 'd1' }, attachTo: document.body })
    await flushPromises()
    expect(w.text()).toContain('No public links.')
    await w.find('[data-testid="new-link"]').trigger('click')
    await w.find('[data-testid="link-amount"]').setValue(2)
    await w.find('[data-testid="link-new-password"]').setValue('pw')
    await w.find('[data-testid="link-max"]').setValue(3)
    await w.find('[data-testid="link-form"]').trigger('submit')
    await flushPromises()
    const post = calls.find((c) => c.method === 'POST')
    expect(post?.body).toEqual({ expires_in_hours: 48, password: 'pw', max_downloads: 3 })
    expect((w.find('[data-testid="link-url"]').element as HTMLTextAreaElement).value).toBe('http://vault/l/secret-token')
    expect(w.find('[data-testid="link-counts"]').text()).toContain('Opened 4×')
    expect(w.find('[data-testid="link-counts"]').text()).toContain('downloaded 1 of 3×')
    await w.find('[data-testid="revoke-link"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="link-status"]').text()).toBe('Turned off')
    expect(w.find('[data-testid="revoke-link"]').exists()).toBe(false)
  })
})
