import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import { useAuthStore } from '@/stores/auth'
import DocumentsView from '@/views/DocumentsView.vue'
import SavedViewsNav from '@/components/SavedViewsNav.vue'
import { USER, installDialog, json, mockFetch } from './helpers'

beforeAll(installDialog)
afterEach(() => vi.unstubAllGlobals())

const doc = (over: object = {}) => ({
  id: 'd1',
  owner_id: USER.id,
  owner_handle: USER.handle,
  filename: 'a.pdf',
  content_type: 'application/pdf',
  size_bytes: 10,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  ...over,
})

function routerFor() {
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/documents', name: 'documents', component: DocumentsView },
      { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
    ],
  })
}

async function setup(path: string, items: object[], views: object[] = []) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
  const mock = mockFetch({
    'GET /api/documents': () => json(200, { items, total: items.length, total_exact: true, page: 1, per_page: 25 }),
    'GET /api/topics': () => json(200, { items: [] }),
    'GET /api/folders': () =>
      json(200, {
        items: [
          { id: 'f1', parent_id: null, name: 'Taxes', created_at: '', updated_at: '', document_count: 0 },
          { id: 'f2', parent_id: 'f1', name: '2025', created_at: '', updated_at: '', document_count: 3 },
        ],
      }),
    'GET /api/views': () => json(200, { items: views }),
    'POST /api/views': (c) => json(201, { id: 'v9', created_at: '', updated_at: '', ...(c.body as object) }),
  })
  const router = routerFor()
  await router.push(path)
  await router.isReady()
  return { pinia, router, mock }
}

describe('documents list filters and saved views', () => {
  it('asks the API for what the URL says', async () => {
    const { pinia, router, mock } = await setup('/documents?folder=f1&subfolders=1&type=image/png&from=2026-01-01&min=1024&shared=1', [doc()])
    mount(DocumentsView, { global: { plugins: [pinia, router] } })
    await flushPromises()
    const list = mock.calls.find((c) => c.url.startsWith('/api/documents?'))!
    const q = new URL(list.url, 'http://x').searchParams
    expect(Object.fromEntries(q)).toMatchObject({
      folder_id: 'f1',
      include_subfolders: 'true',
      content_type: 'image/png',
      created_from: '2026-01-01',
      size_min: '1024',
      include_shared: 'true',
    })
  })

  it('says an empty folder is empty and shows its sub-folders', async () => {
    const { pinia, router } = await setup('/documents?folder=f1', [])
    const view = mount(DocumentsView, { global: { plugins: [pinia, router] } })
    await flushPromises()
    await (await import('@/stores/library')).useLibraryStore().load()
    await flushPromises()
    expect(view.get('[data-testid="empty"]').text()).toContain('This folder is empty')
    expect(view.text()).not.toContain('Nothing matches')
    expect(view.get('[data-testid="subfolders"]').text()).toContain('2025')
  })

  it('marks documents shared by someone else with their handle, and offers no trash for them', async () => {
    const { pinia, router } = await setup('/documents?q=tax&shared=1', [doc(), doc({ id: 'd2', filename: 'b.pdf', owner_id: 'someone', owner_handle: 'bob' })])
    const view = mount(DocumentsView, { global: { plugins: [pinia, router] } })
    await flushPromises()
    const badges = view.findAll('[data-testid="owner-badge"]')
    expect(badges).toHaveLength(1)
    expect(badges[0].text()).toBe('from @bob')
    expect(view.findAll('button[aria-label="Delete b.pdf"]')).toHaveLength(0)
    expect(view.findAll('button[aria-label="Delete a.pdf"]')).toHaveLength(1)
  })

  it('saves the current list as a view with the API names', async () => {
    const { pinia, router, mock } = await setup('/documents?q=tax&type=application/pdf&page=2&sort=size&order=asc', [doc()])
    const view = mount(DocumentsView, { global: { plugins: [pinia, router] }, attachTo: document.body })
    await flushPromises()
    await view.get('[data-testid="save-view"]').trigger('click')
    await flushPromises()
    const dialog = document.body.querySelector('dialog')!
    const input = dialog.querySelector<HTMLInputElement>('[data-testid="view-name"]')!
    input.value = 'Tax PDFs'
    input.dispatchEvent(new Event('input'))
    dialog.querySelector('form')!.dispatchEvent(new Event('submit'))
    await flushPromises()
    const post = mock.calls.find((c) => c.method === 'POST' && c.url === '/api/views')!
    expect(post.body).toEqual({ name: 'Tax PDFs', query: { q: 'tax', content_type: 'application/pdf', sort: 'size', order: 'asc' } })
    view.unmount()
  })

  it('lists saved views in the sidebar as links to their list', async () => {
    const { pinia, router } = await setup('/documents?type=image/png', [], [
      { id: 'v1', name: 'Scans', query: { content_type: 'image/png' }, created_at: '', updated_at: '' },
      { id: 'v2', name: 'Big', query: { size_min: 1000000, include_shared: true }, created_at: '', updated_at: '' },
    ])
    const nav = mount(SavedViewsNav, { global: { plugins: [pinia, router] } })
    await flushPromises()
    const links = nav.findAll('a')
    expect(links.map((a) => a.attributes('href'))).toEqual(['/documents?type=image/png', '/documents?min=1000000&shared=1'])
    // The open list is the first view: it is marked.
    expect(links[0].classes()).toContain('bg-brand-50')
    expect(links[1].classes()).not.toContain('bg-brand-50')
  })
})
