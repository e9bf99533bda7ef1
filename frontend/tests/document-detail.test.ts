import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import DocumentDetailView from '@/views/DocumentDetailView.vue'
import VersionsPanel from '@/components/VersionsPanel.vue'
import { useAuthStore } from '@/stores/auth'
import { USER, json, mockFetch } from './helpers'

beforeAll(() => {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void; close?: () => void }
  if (!proto.showModal) proto.showModal = function (this: HTMLDialogElement) { this.setAttribute('open', '') }
  if (!proto.close) proto.close = function (this: HTMLDialogElement) { this.removeAttribute('open') }
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const base = {
  id: 'd1',
  owner_id: USER.id,
  filename: 'copy.pdf',
  content_type: 'application/pdf',
  size_bytes: 10,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  duplicate_of: 'orig-1',
}

async function render(routes: Parameters<typeof mockFetch>[0]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
  const mock = mockFetch({
    'GET /api/documents/d1/text': () => json(404, { code: 'not_found', message: 'no text' }),
    'GET /api/documents/d1/view': () => json(404, { code: 'not_found', message: 'no view' }),
    'GET /api/documents/d1/shares': () => json(200, { items: [] }),
    'GET /api/documents/d1/versions': () => json(200, { items: [] }),
    ...routes,
  })
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'documents', component: { template: '<div />' } },
      { path: '/documents/:id', name: 'document', component: DocumentDetailView },
    ],
  })
  await router.push('/documents/d1')
  await router.isReady()
  const w = mount(DocumentDetailView, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return { w, ...mock }
}

describe('document page', () => {
  it('a duplicate links to its original', async () => {
    const { w } = await render({ 'GET /api/documents/d1': () => json(200, base) })
    expect(w.get('[data-testid=duplicate-badge]').attributes('href')).toBe('/documents/orig-1')
    expect(w.find('[data-testid=trashed-banner]').exists()).toBe(false)
    expect(w.find('[data-testid=versions]').exists()).toBe(true)
    w.unmount()
  })

  it('a trashed document says so, changes nothing, and can be restored', async () => {
    let trashed = true
    const { w, calls } = await render({
      'GET /api/documents/d1': () =>
        json(200, { ...base, duplicate_of: null, trashed_at: trashed ? '2026-01-02T00:00:00Z' : null, purge_at: trashed ? '2026-02-01T00:00:00Z' : null }),
      'POST /api/documents/d1/restore': () => {
        trashed = false
        return json(200, { ...base, trashed_at: null })
      },
      'GET /api/documents': () => json(200, { items: [], total: 0, page: 1, per_page: 25, total_exact: true }),
      'GET /api/topics': () => json(200, { items: [] }),
      'GET /api/folders': () => json(200, { items: [] }),
    })
    expect(w.get('[data-testid=trashed-banner]').text()).toContain('In the trash')
    expect(w.find('[data-testid=delete]').exists()).toBe(false)
    expect(w.find('[data-testid=upload-version]').exists()).toBe(false)
    expect(w.find('#folder').exists()).toBe(false)
    await w.get('[data-testid=trashed-banner] [data-testid=restore]').trigger('click')
    await flushPromises()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/documents/d1/restore')).toBe(true)
    expect(w.find('[data-testid=trashed-banner]').exists()).toBe(false)
    expect(w.find('[data-testid=delete]').exists()).toBe(true)
    expect(w.find('[data-testid=upload-version]').exists()).toBe(true)
    w.unmount()
  })

  it('delete moves the document to the trash and offers Undo', async () => {
    const { w, calls } = await render({
      'GET /api/documents/d1': () => json(200, base),
      'DELETE /api/documents/d1': () => new Response(null, { status: 204 }),
      'GET /api/auth/me/quota': () => json(200, { used_bytes: 10, limit_bytes: 100 }),
      'GET /api/topics': () => json(200, { items: [] }),
      'GET /api/folders': () => json(200, { items: [] }),
    })
    await w.get('[data-testid=delete]').trigger('click')
    expect(document.querySelector('dialog')?.textContent).toContain('goes to the trash')
    ;(document.querySelector('dialog [data-testid=confirm]') as HTMLButtonElement).click()
    await flushPromises()
    expect(calls.some((c) => c.method === 'DELETE' && c.url === '/api/documents/d1')).toBe(true)
    const { useToastStore } = await import('@/stores/toasts')
    const t = useToastStore().items.at(-1)!
    expect(t.text).toBe('Moved copy.pdf to the trash')
    expect(t.action?.label).toBe('Undo')
    w.unmount()
  })

  it('after a new version the page shows processing again', async () => {
    let status = 'classified'
    const { w, calls } = await render({ 'GET /api/documents/d1': () => json(200, { ...base, status, filename: status === 'queued' ? 'v2.pdf' : 'copy.pdf' }) })
    expect(w.get('[data-testid=doc-status]').attributes('data-status')).toBe('classified')
    const views = () => calls.filter((c) => c.url === '/api/documents/d1/view').length
    const before = views()
    status = 'queued'
    w.findComponent(VersionsPanel).vm.$emit('changed')
    await flushPromises()
    expect(w.get('[data-testid=doc-status]').attributes('data-status')).toBe('queued')
    expect(w.get('[data-testid=doc-title]').text()).toContain('v2.pdf')
    // The viewer loads the new current file.
    expect(views()).toBe(before + 1)
    w.unmount()
  })
})
