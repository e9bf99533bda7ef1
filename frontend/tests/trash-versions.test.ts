import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { setAccessToken } from '@/api/client'
import DuplicateBadge from '@/components/DuplicateBadge.vue'
import ToastHost from '@/components/ToastHost.vue'
import UploadPanel from '@/components/UploadPanel.vue'
import VersionsPanel from '@/components/VersionsPanel.vue'
import TrashView from '@/views/TrashView.vue'
import ExportSettings from '@/views/settings/ExportSettings.vue'
import { useToastStore } from '@/stores/toasts'
import { useUploadsStore } from '@/stores/uploads'
import { FakeXhr, USER, json, mockFetch, installDialog } from './helpers'

const doc = (id: string, extra: object = {}) => ({
  id,
  owner_id: USER.id,
  filename: `${id}.pdf`,
  content_type: 'application/pdf',
  size_bytes: 2048,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  ...extra,
})
const SHA_NEW = 'a'.repeat(60) + '1234'
const SHA_OLD = 'b'.repeat(60) + '5678'
const version = (id: string, current: boolean, sha: string) => ({
  id,
  document_id: 'd1',
  filename: `notes-${id}.txt`,
  content_type: 'text/plain',
  size_bytes: 1536,
  sha256: sha,
  created_at: '2026-03-01T10:00:00Z',
  current,
})

// jsdom has <dialog> without the modal API.
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
      { path: '/', name: 'documents', component: { template: '<div />' } },
      { path: '/trash', name: 'trash', component: TrashView },
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

describe('TrashView', () => {
  it('lists trashed documents with their purge date, the quota note, and restores one', async () => {
    const { calls } = mockFetch({
      'GET /api/documents': () =>
        json(200, { items: [doc('old', { trashed_at: '2026-01-02T00:00:00Z', purge_at: '2026-02-01T12:00:00Z' })], total: 1, page: 1, per_page: 50, total_exact: true }),
      'POST /api/documents/old/restore': () => json(200, doc('old')),
      'GET /api/topics': () => json(200, { items: [] }),
      'GET /api/folders': () => json(200, { items: [] }),
    })
    const w = mount(TrashView, opts())
    await flushPromises()
    expect(calls[0].url).toContain('trashed=true')
    const row = w.get('[data-doc="old.pdf"]')
    expect(row.get('[data-testid=purge-at]').attributes('title')).toBe('2026-02-01T12:00:00Z')
    expect(row.text()).toContain('gone for good')
    expect(w.get('[data-testid=trash-quota-note]').text()).toContain('still count against your storage')
    await row.get('[data-testid=restore]').trigger('click')
    await flushPromises()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/documents/old/restore')).toBe(true)
    expect(w.find('[data-doc="old.pdf"]').exists()).toBe(false)
    expect(w.find('[data-testid=trash-empty]').exists()).toBe(true)
    expect(useToastStore().items.some((t) => t.text === 'Restored old.pdf')).toBe(true)
    w.unmount()
  })

  it('shows the quota message when a restore is refused with 413', async () => {
    mockFetch({
      'GET /api/documents': () => json(200, { items: [doc('big')], total: 1, page: 1, per_page: 50, total_exact: true }),
      'POST /api/documents/big/restore': () =>
        json(413, { code: 'quota_exceeded', message: 'Quota', detail: { used_bytes: 1000, reserved_bytes: 0, limit_bytes: 1000, rejected_bytes: 2048 } }),
    })
    const w = mount(TrashView, opts())
    await flushPromises()
    await w.get('[data-testid=restore]').trigger('click')
    await flushPromises()
    const t = useToastStore().items.at(-1)!
    expect(t.kind).toBe('error')
    expect(t.text).toContain('Not enough space: this file needs 2 KB, only 0 B of 1000 B is free.')
    expect(w.find('[data-doc="big.pdf"]').exists()).toBe(true)
    w.unmount()
  })

  it('deletes forever and empties the trash only after a confirmation', async () => {
    const { calls } = mockFetch({
      'GET /api/documents': () => json(200, { items: [doc('x'), doc('y')], total: 2, page: 1, per_page: 50, total_exact: true }),
      'DELETE /api/documents/x': () => new Response(null, { status: 204 }),
      'DELETE /api/documents/trash': () => json(200, { deleted: 1 }),
      'GET /api/auth/me/quota': () => json(200, { used_bytes: 0, limit_bytes: 100 }),
    })
    const w = mount(TrashView, opts())
    await flushPromises()
    await w.get('[data-doc="x.pdf"] [data-testid=delete-forever]').trigger('click')
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(0)
    expect(document.querySelector('dialog')?.textContent).toContain('cannot be undone')
    ;(document.querySelector('dialog [data-testid=confirm]') as HTMLButtonElement).click()
    await flushPromises()
    expect(calls.map((c) => `${c.method} ${c.url}`)).toContain('DELETE /api/documents/x?permanent=true')
    expect(w.find('[data-doc="x.pdf"]').exists()).toBe(false)
    await w.get('[data-testid=empty-trash]').trigger('click')
    ;(document.querySelector('dialog [data-testid=confirm]') as HTMLButtonElement).click()
    await flushPromises()
    expect(calls.map((c) => `${c.method} ${c.url}`)).toContain('DELETE /api/documents/trash')
    expect(w.find('[data-testid=trash-empty]').exists()).toBe(true)
    expect((w.get('[data-testid=empty-trash]').element as HTMLButtonElement).disabled).toBe(true)
    w.unmount()
  })
})

describe('VersionsPanel', () => {
  it('lists versions with size, short SHA-256 (full in the title) and the current one', async () => {
    mockFetch({ 'GET /api/documents/d1/versions': () => json(200, { items: [version('v2', true, SHA_NEW), version('v1', false, SHA_OLD)] }) })
    const w = mount(VersionsPanel, { ...opts(), props: { documentId: 'd1' } })
    await flushPromises()
    const rows = w.findAll('[data-version]')
    expect(rows).toHaveLength(2)
    expect(rows[0].get('[data-testid=version-current]').text()).toBe('Current')
    expect(rows[1].find('[data-testid=version-current]').exists()).toBe(false)
    expect(rows[0].text()).toContain('1.5 KB')
    const sha = rows[0].get('.font-mono')
    expect(sha.text()).toBe(SHA_NEW.slice(0, 12))
    expect(sha.attributes('title')).toBe(`SHA-256 ${SHA_NEW}`)
    // Make current only on the older one; delete on both (two versions).
    expect(rows[0].find('[data-testid=make-current]').exists()).toBe(false)
    expect(rows[1].find('[data-testid=make-current]').exists()).toBe(true)
    expect(w.findAll('[data-testid=delete-version]')).toHaveLength(2)
    w.unmount()
  })

  it('offers no delete for the only version', async () => {
    mockFetch({ 'GET /api/documents/d1/versions': () => json(200, { items: [version('v1', true, SHA_OLD)] }) })
    const w = mount(VersionsPanel, { ...opts(), props: { documentId: 'd1' } })
    await flushPromises()
    expect(w.findAll('[data-version]')).toHaveLength(1)
    expect(w.find('[data-testid=delete-version]').exists()).toBe(false)
    w.unmount()
  })

  it('makes an older version current and tells the page', async () => {
    let current = 'v2'
    const { calls } = mockFetch({
      'GET /api/documents/d1/versions': () => json(200, { items: [version('v2', current === 'v2', SHA_NEW), version('v1', current === 'v1', SHA_OLD)] }),
      'POST /api/documents/d1/versions/v1/make-current': () => {
        current = 'v1'
        return json(200, doc('d1', { status: 'queued' }))
      },
    })
    const w = mount(VersionsPanel, { ...opts(), props: { documentId: 'd1' } })
    await flushPromises()
    await w.get('[data-version=v1] [data-testid=make-current]').trigger('click')
    await flushPromises()
    expect(calls.some((c) => c.url.endsWith('/versions/v1/make-current'))).toBe(true)
    expect(w.emitted('changed')?.[0]?.[0]).toMatchObject({ id: 'd1', status: 'queued' })
    expect(w.get('[data-version=v1]').attributes('data-current')).toBe('true')
    w.unmount()
  })

  it('uploads a new version through the picker, updates the quota and tells the page', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    FakeXhr.instances = []
    let items = [version('v1', true, SHA_OLD)]
    mockFetch({
      'GET /api/documents/d1/versions': () => json(200, { items }),
      'POST /api/documents/d1/versions/upload-url': () =>
        json(201, { document_id: 'd1', version_id: 'v2', upload_url: 'http://storage/v2', headers: { 'Content-Type': 'text/plain' }, expires_at: 'z' }),
      'POST /api/documents/d1/versions/v2/confirm': () => {
        items = [version('v2', true, SHA_NEW), version('v1', false, SHA_OLD)]
        return json(200, { document_id: 'd1', version_id: 'v2', size_bytes: 5, sha256: SHA_NEW, used_bytes: 4321, status: 'queued' })
      },
    })
    const w = mount(VersionsPanel, { ...opts(), props: { documentId: 'd1' } })
    await flushPromises()
    const input = w.get('[data-testid=version-file-input]')
    Object.defineProperty(input.element, 'files', { value: [new File(['hello'], 'notes.txt', { type: 'text/plain' })], configurable: true })
    await input.trigger('change')
    await flushPromises()
    expect(w.find('[data-testid=version-upload]').exists()).toBe(true)
    expect(FakeXhr.instances).toHaveLength(1)
    FakeXhr.instances[0].respond(200)
    await flushPromises()
    expect(w.emitted('changed')).toHaveLength(1)
    expect(w.findAll('[data-version]')).toHaveLength(2)
    expect(w.find('[data-testid=version-upload]').exists()).toBe(false)
    const { useQuotaStore } = await import('@/stores/quota')
    expect(useQuotaStore().used).toBe(4321)
    w.unmount()
  })

  it('hides the changing actions when read-only (a trashed document)', async () => {
    mockFetch({ 'GET /api/documents/d1/versions': () => json(200, { items: [version('v2', true, SHA_NEW), version('v1', false, SHA_OLD)] }) })
    const w = mount(VersionsPanel, { ...opts(), props: { documentId: 'd1', readonly: true } })
    await flushPromises()
    expect(w.find('[data-testid=upload-version]').exists()).toBe(false)
    expect(w.find('[data-testid=make-current]').exists()).toBe(false)
    expect(w.find('[data-testid=delete-version]').exists()).toBe(false)
    w.unmount()
  })
})

describe('duplicates', () => {
  it('the badge links to the original', async () => {
    const w = mount(DuplicateBadge, { ...opts(), props: { of: 'orig-1', name: 'copy.pdf' } })
    expect(w.get('a').attributes('href')).toBe('/documents/orig-1')
    expect(w.text()).toBe('Duplicate')
    w.unmount()
  })

  it('the upload panel says "Already in your vault" with a link instead of an error', async () => {
    mockFetch({})
    const uploads = useUploadsStore()
    uploads.items.push({
      key: 1,
      name: 'same.pdf',
      size: 4,
      loaded: 0,
      state: 'error',
      error: 'Already in your vault',
      documentId: 'new',
      existingId: 'orig-1',
      file: new File(['same'], 'same.pdf'),
      folderId: null,
      controller: new AbortController(),
      retryable: false,
      batch: 0,
    })
    const w = mount(UploadPanel, opts())
    const msg = w.get('[data-testid=upload-duplicate]')
    expect(msg.text()).toContain('Already in your vault')
    expect(msg.get('a').attributes('href')).toBe('/documents/orig-1')
    expect(w.find('.text-red-600[role=alert]').exists()).toBe(false)
    expect(w.findAll('button').some((b) => b.text() === 'Retry')).toBe(false)
    w.unmount()
  })
})

describe('ToastHost', () => {
  it('shows a toast action and runs it once', async () => {
    const w = mount(ToastHost, opts())
    const run = vi.fn()
    useToastStore().withAction('Moved a.pdf to the trash', { label: 'Undo', run })
    await flushPromises()
    await w.get('[data-testid=toast-action]').trigger('click')
    expect(run).toHaveBeenCalledTimes(1)
    expect(useToastStore().items).toHaveLength(0)
    w.unmount()
  })
})

describe('ExportSettings', () => {
  it('asks for the export link and shows a failure in words', async () => {
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined)
    let fail = true
    mockFetch({
      'POST /api/me/export-url': () => (fail ? json(503, { code: 'service_unavailable', message: 'Try again later' }) : json(200, { url: 'http://x/zip', expires_at: 'z' })),
    })
    const w = mount(ExportSettings, opts())
    await w.get('[data-testid=export]').trigger('click')
    await flushPromises()
    expect(w.get('[role=alert]').text()).toBe('Try again later')
    fail = false
    await w.get('[data-testid=export]').trigger('click')
    await flushPromises()
    expect(w.find('[role=alert]').exists()).toBe(false)
    expect(click).toHaveBeenCalledTimes(1)
    click.mockRestore()
    w.unmount()
  })
})
