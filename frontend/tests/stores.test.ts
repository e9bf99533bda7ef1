import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import { POLL_MS, useDocumentsStore } from '@/stores/documents'
import { useQuotaStore } from '@/stores/quota'
import { useDocumentTypesStore } from '@/stores/documentTypes'
import { buildTree, flattenTree } from '@/stores/library'
import { formatBytes, parseBytes, contentTypeFor, acceptAttr } from '@/lib/format'
import { json, mockFetch } from './helpers'

const doc = (id: string, status: string) => ({
  id,
  owner_id: 'o',
  filename: `${id}.pdf`,
  content_type: 'application/pdf',
  size_bytes: 10,
  status,
  ai_opt_out: false,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
})

beforeEach(() => {
  setActivePinia(createPinia())
  setAccessToken('t')
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('quota store', () => {
  it('loads and grades the bar: amber from 80 %, red from 95 %', async () => {
    mockFetch({ 'GET /api/auth/me/quota': () => json(200, { used_bytes: 79, limit_bytes: 100 }) })
    const q = useQuotaStore()
    await q.load()
    expect(q.level).toBe('ok')
    q.setUsed(80)
    expect(q.level).toBe('warn')
    q.setUsed(95)
    expect(q.level).toBe('full')
    q.setUsed(0)
    expect(q.ratio).toBe(0)
    expect(q.free).toBe(100)
  })
})

describe('documents store', () => {
  it('passes filters, sort and search to the API', async () => {
    const { calls } = mockFetch({ 'GET /api/documents': () => json(200, { items: [], total: 0, page: 2, per_page: 25, total_exact: true }) })
    const s = useDocumentsStore()
    await s.load({ page: 2, per_page: 25, sort: 'name', order: 'asc', topic: 'tp', q: 'invoice' })
    const url = new URL(calls[0].url, 'http://x')
    expect(Object.fromEntries(url.searchParams)).toEqual({ page: '2', per_page: '25', sort: 'name', order: 'asc', topic: 'tp', q: 'invoice' })
  })

  it('polls while a document is queued or processing and stops once all are settled', async () => {
    vi.useFakeTimers()
    const answers = [[doc('a', 'queued')], [doc('a', 'processing')], [doc('a', 'classified')]]
    let n = 0
    const { calls } = mockFetch({
      'GET /api/documents': () => {
        const items = answers[Math.min(n++, answers.length - 1)]
        return json(200, { items, total: 1, page: 1, per_page: 25, total_exact: true })
      },
    })
    const s = useDocumentsStore()
    s.startPolling()
    await s.load({ page: 1, per_page: 25 })
    expect(s.items[0].status).toBe('queued')
    await vi.advanceTimersByTimeAsync(POLL_MS + 10)
    expect(s.items[0].status).toBe('processing')
    await vi.advanceTimersByTimeAsync(POLL_MS + 10)
    expect(s.items[0].status).toBe('classified')
    await vi.advanceTimersByTimeAsync(POLL_MS * 5)
    expect(calls).toHaveLength(3)
    s.stopPolling()
  })

  it('ignores a slow older answer that arrives after a newer one', async () => {
    let release!: () => void
    mockFetch({
      'GET /api/documents': (c) =>
        c.url.includes('q=old')
          ? new Promise<Response>((r) => (release = () => r(json(200, { items: [doc('old', 'classified')], total: 1, page: 1, per_page: 25, total_exact: true }))))
          : json(200, { items: [doc('new', 'classified')], total: 1, page: 1, per_page: 25, total_exact: true }),
    })
    const s = useDocumentsStore()
    const slow = s.load({ q: 'old' })
    await s.load({ q: 'new' })
    release()
    await slow
    expect(s.items[0].id).toBe('new')
  })

  it('keeps whether the total is exact: a search over its limit says "at least"', async () => {
    mockFetch({
      'GET /api/documents': (c) =>
        c.url.includes('q=')
          ? json(200, { items: [doc('a', 'classified')], total: 1000, total_exact: false, page: 1, per_page: 25 })
          : json(200, { items: [doc('a', 'classified')], total: 3, total_exact: true, page: 1, per_page: 25 }),
    })
    const s = useDocumentsStore()
    await s.load({ q: 'the' })
    expect(s.total).toBe(1000)
    expect(s.totalExact).toBe(false)
    expect(s.pages).toBe(40)
    await s.load({})
    expect(s.totalExact).toBe(true)
    expect(s.maxHits).toBe(null)
  })

  it('ends the pages of an exactly counted search at its hit limit', async () => {
    mockFetch({
      'GET /api/documents': () => json(200, { items: [doc('a', 'classified')], total: 5000, total_exact: true, max_hits: 1000, page: 1, per_page: 25 }),
    })
    const s = useDocumentsStore()
    await s.load({ q: 'the', count: 'exact' })
    expect(s.total).toBe(5000)
    expect(s.totalExact).toBe(true)
    expect(s.pages).toBe(40)
  })

  it('deletes a document and re-reads the quota', async () => {
    const { calls } = mockFetch({
      'GET /api/documents': () => json(200, { items: [doc('a', 'classified')], total: 1, page: 1, per_page: 25, total_exact: true }),
      'DELETE /api/documents/a': () => new Response(null, { status: 204 }),
      'GET /api/auth/me/quota': () => json(200, { used_bytes: 0, limit_bytes: 100 }),
    })
    const s = useDocumentsStore()
    const q = useQuotaStore()
    q.setUsed(10)
    await s.load({})
    await s.remove('a')
    expect(s.items).toHaveLength(0)
    expect(s.total).toBe(0)
    expect(q.used).toBe(0)
    expect(calls.map((c) => `${c.method} ${c.url}`)).toContain('GET /api/auth/me/quota')
  })
})

describe('helpers', () => {
  it('formats and parses sizes', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1536)).toBe('1.5 KB')
    expect(formatBytes(104857600)).toBe('100 MB')
    expect(parseBytes('100 MB')).toBe(104857600)
    expect(parseBytes('1.5 GB')).toBe(1610612736)
    expect(parseBytes('lots')).toBeNull()
  })

  it('declares content types by extension', () => {
    // As `GET /api/auth/config` lists them.
    const types = [
      { content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extensions: ['docx'], label: 'DOCX' },
      { content_type: 'text/markdown', extensions: ['md', 'markdown'], label: 'Markdown' },
    ]
    expect(contentTypeFor('notes.md', 'text/plain', types)).toBe('text/markdown')
    expect(contentTypeFor('a.DOCX', '', types)).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document')
    expect(contentTypeFor('x.bin', 'application/zip', types)).toBe('application/zip')
    expect(acceptAttr(types)).toBe('.docx,.md,.markdown,application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/markdown')
  })

  it('reads the accepted document types from the server config', async () => {
    mockFetch({
      'GET /api/auth/config': () =>
        json(200, {
          registration_enabled: true,
          version: '0',
          document_types: [{ content_type: 'text/csv', extensions: ['csv'], label: 'CSV' }],
        }),
    })
    const store = useDocumentTypesStore()
    expect(store.accept).toBe('')
    await store.load()
    expect(store.accept).toBe('.csv,text/csv')
    expect(store.contentTypeFor('data.CSV', '')).toBe('text/csv')
    expect(store.contentTypeFor('notes.md', 'text/plain')).toBe('text/plain')
  })

  it('builds the folder tree from the flat list', () => {
    const f = (id: string, name: string, parent_id: string | null) => ({ id, name, parent_id, created_at: '', updated_at: '', document_count: 0 })
    const flat = flattenTree(buildTree([f('c', 'Child', 'p'), f('p', 'Parent', null), f('a', 'Another', null)]))
    expect(flat.map((n) => [n.folder.name, n.depth])).toEqual([
      ['Another', 0],
      ['Parent', 0],
      ['Child', 1],
    ])
  })
})
