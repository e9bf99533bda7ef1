import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import { clickSelection, failureSummary, filtersOf, rangeBetween, useSelection } from '@/lib/selection'
import DocumentsView from '@/views/DocumentsView.vue'
import { USER, json, mockFetch } from './helpers'

const ORDER = ['a', 'b', 'c', 'd', 'e']

describe('selection ranges', () => {
  it('spans from the anchor to the target in either direction', () => {
    expect(rangeBetween(ORDER, 'b', 'd')).toEqual(['b', 'c', 'd'])
    expect(rangeBetween(ORDER, 'd', 'b')).toEqual(['b', 'c', 'd'])
    expect(rangeBetween(ORDER, 'c', 'c')).toEqual(['c'])
    // No anchor, or one no longer shown (another page): the target alone.
    expect(rangeBetween(ORDER, null, 'c')).toEqual(['c'])
    expect(rangeBetween(ORDER, 'z', 'c')).toEqual(['c'])
    expect(rangeBetween(ORDER, 'a', 'z')).toEqual([])
  })

  it('a shift-click gives the whole range the state the target gets', () => {
    let s = clickSelection(new Set(), ORDER, null, 'b', false)
    expect([...s]).toEqual(['b'])
    s = clickSelection(s, ORDER, 'b', 'e', true)
    expect([...s].sort()).toEqual(['b', 'c', 'd', 'e'])
    // Shift-click on a checked one unchecks the range.
    s = clickSelection(s, ORDER, 'e', 'c', true)
    expect([...s]).toEqual(['b'])
    // A plain click toggles one only.
    s = clickSelection(s, ORDER, 'c', 'e', false)
    expect([...s].sort()).toEqual(['b', 'e'])
  })

  it('the composable keeps the anchor, selects and unselects pages, and clears', () => {
    const sel = useSelection()
    sel.click('a', ORDER, false)
    sel.click('c', ORDER, true)
    expect(sel.ids().sort()).toEqual(['a', 'b', 'c'])
    expect(sel.count.value).toBe(3)
    expect(sel.allOf(ORDER)).toBe(false)
    sel.togglePage(ORDER)
    expect(sel.allOf(ORDER)).toBe(true)
    sel.togglePage(ORDER)
    expect(sel.count.value).toBe(0)
    sel.set(['x', 'y'])
    expect(sel.has('x')).toBe(true)
    sel.clear()
    expect(sel.count.value).toBe(0)
    // After clear there is no anchor: a shift-click selects the target only.
    sel.click('d', ORDER, true)
    expect(sel.ids()).toEqual(['d'])
  })

  it('summarises failures by reason and drops paging from filters', () => {
    const summary = failureSummary([
      { id: '1', ok: true, status: 200, code: null, message: null },
      { id: '2', ok: false, status: 404, code: 'not_found', message: 'No such resource' },
      { id: '3', ok: false, status: 404, code: 'not_found', message: 'No such resource' },
      { id: '4', ok: false, status: 409, code: 'document_trashed', message: 'In the trash' },
    ])
    expect(summary).toBe('2 not found, 1 in the trash')
    expect(filtersOf({ page: 3, per_page: 25, q: 'tax', sort: 'name' })).toEqual({ q: 'tax', sort: 'name' })
  })
})

const doc = (id: string, filename: string) => ({
  id,
  owner_id: USER.id,
  filename,
  content_type: 'application/pdf',
  size_bytes: 10,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
})

afterEach(() => vi.unstubAllGlobals())

describe('bulk bar in the documents list', () => {
  it('selects a shift range, all matching, trashes with a failure summary and undoes', async () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    setAccessToken('t')
    const items = ['d1', 'd2', 'd3', 'd4'].map((id) => doc(id, `${id}.pdf`))
    const { calls } = mockFetch({
      'GET /api/documents': () => json(200, { items, total: 30, total_exact: true, page: 1, per_page: 25 }),
      'GET /api/documents/ids': () => json(200, { ids: Array.from({ length: 30 }, (_, i) => `d${i + 1}`), total: 30, truncated: false }),
      'GET /api/topics': () => json(200, { items: [] }),
      'GET /api/folders': () => json(200, { items: [] }),
      'GET /api/auth/me/quota': () => json(200, {}),
      'POST /api/documents/bulk': (c) => {
        const body = c.body as { ids: string[]; action: string }
        const results = body.ids.map((id) =>
          id === 'd3' && body.action === 'trash'
            ? { id, ok: false, status: 404, code: 'not_found', message: 'No such resource' }
            : { id, ok: true, status: body.action === 'trash' ? 204 : 200, code: null, message: null },
        )
        const ok = results.filter((r) => r.ok).length
        return json(200, { results, succeeded: ok, failed: results.length - ok })
      },
    })
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/', name: 'documents', component: DocumentsView },
        { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
      ],
    })
    await router.push('/?q=tax')
    await router.isReady()
    const view = mount(DocumentsView, { global: { plugins: [pinia, router] }, attachTo: document.body })
    await flushPromises()

    const boxes = view.findAll('table [data-testid="select-doc"]')
    expect(boxes).toHaveLength(4)
    await boxes[0].trigger('click')
    await boxes[2].trigger('click', { shiftKey: true })
    expect(view.get('[data-testid="bulk-count"]').text()).toBe('3 selected')

    // Select page, then every matching document through the ids endpoint (same filters).
    await view.get('[data-testid="select-page"]').trigger('change')
    expect(view.get('[data-testid="bulk-count"]').text()).toBe('4 selected')
    await view.get('[data-testid="select-matching"]').trigger('click')
    await flushPromises()
    expect(view.get('[data-testid="bulk-count"]').text()).toBe('30 selected')
    const idsCall = calls.find((c) => c.url.includes('/api/documents/ids'))!
    expect(idsCall.url).toContain('q=tax')
    expect(idsCall.url).not.toContain('page=')

    // Trash: one fails; the summary says so and keeps it selected; Undo restores the rest.
    await view.get('[data-testid="bulk-trash"]').trigger('click')
    await flushPromises()
    expect(view.get('[data-testid="bulk-failures"]').text()).toContain('1 not found')
    expect(view.get('[data-testid="bulk-failures"]').text()).toContain('d3.pdf')
    expect(view.get('[data-testid="bulk-count"]').text()).toBe('1 selected')
    const { useToastStore } = await import('@/stores/toasts')
    const toasts = useToastStore()
    const undo = toasts.items.find((t) => t.action?.label === 'Undo')!
    expect(undo.text).toBe('Moved 29 documents to the trash')
    toasts.act(undo.id)
    await flushPromises()
    const restore = calls.filter((c) => c.method === 'POST' && (c.body as { action: string }).action === 'restore')
    expect(restore).toHaveLength(1)
    expect((restore[0].body as { ids: string[] }).ids).toHaveLength(29)
    expect((restore[0].body as { ids: string[] }).ids).not.toContain('d3')
    view.unmount()
  })
})
