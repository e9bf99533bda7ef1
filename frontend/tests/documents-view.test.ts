import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import { createMemoryHistory, createRouter } from 'vue-router'
import DocumentsView from '@/views/DocumentsView.vue'
import { USER, json, mockFetch } from './helpers'

const doc = {
  id: 'd1',
  owner_id: USER.id,
  filename: 'a.pdf',
  content_type: 'application/pdf',
  size_bytes: 10,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

afterEach(() => vi.unstubAllGlobals())

async function render(path: string, total: number, exact: boolean, answer?: (url: string) => Response) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  const mocked = mockFetch({
    'GET /api/documents': (c) => answer?.(c.url) ?? json(200, { items: [doc], total, total_exact: exact, page: 1, per_page: 25 }),
    'GET /api/topics': () => json(200, []),
    'GET /api/folders': () => json(200, []),
  })
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'documents', component: DocumentsView },
      { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
    ],
  })
  await router.push(path)
  await router.isReady()
  const view = mount(DocumentsView, { global: { plugins: [pinia, router] } })
  await flushPromises()
  return Object.assign(view, { calls: mocked.calls, router })
}

describe('documents view', () => {
  it('says when a search returned fewer documents than matched, and which ones', async () => {
    const ranked = await render('/?q=the', 1000, false)
    expect(ranked.get('[data-testid="total-inexact"]').text()).toContain('1000+ documents — showing the 1000 most recent matches, best first')
    ranked.unmount()
    const sorted = await render('/?q=the&sort=name&order=asc', 1000, false)
    expect(sorted.get('[data-testid="total-inexact"]').text()).toContain('1000+ documents — showing the first 1000 in this order')
    sorted.unmount()
    const exact = await render('/?q=rare', 3, true)
    expect(exact.find('[data-testid="total-inexact"]').exists()).toBe(false)
    expect(exact.text()).toContain('3 documents')
  })

  it('counts every match when asked, and keeps showing which ones it returned', async () => {
    const view = await render('/?q=the', 0, false, (url) =>
      url.includes('count=exact')
        ? json(200, { items: [doc], total: 4321, total_exact: true, max_hits: 1000, page: 1, per_page: 25 })
        : json(200, { items: [doc], total: 1000, total_exact: false, max_hits: 1000, page: 1, per_page: 25 }),
    )
    const listed = () => view.calls.filter((c) => c.url.startsWith('/api/documents')).map((c) => c.url)
    expect(view.get('[data-testid="total-inexact"]').text()).toContain('1000+ documents')
    expect(listed().some((u) => u.includes('count='))).toBe(false)
    await view.get('[data-testid="count-all"]').trigger('click')
    await flushPromises()
    expect(listed().at(-1)).toContain('count=exact')
    expect(view.find('[data-testid="total-inexact"]').exists()).toBe(false)
    expect(view.get('[data-testid="total-counted"]').text()).toContain('4321 documents — showing the 1000 most recent matches, best first')
    // Pages end where the returned hits do: 1000 / 25.
    expect(view.text()).toContain('page 1 of 40')
    // Another search counts up to its limit again.
    await view.router.push('/?q=and')
    await flushPromises()
    expect(listed().at(-1)).toContain('q=and')
    expect(listed().at(-1)).not.toContain('count=')
    expect(view.get('[data-testid="total-inexact"]').text()).toContain('1000+ documents')
    view.unmount()
  })
})
