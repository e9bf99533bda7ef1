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

async function render(path: string, total: number, exact: boolean) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  mockFetch({
    'GET /api/documents': () => json(200, { items: [doc], total, total_exact: exact, page: 1, per_page: 25 }),
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
  return view
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
})
