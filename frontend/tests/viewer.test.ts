import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import {
  clampPage,
  fitScale,
  loadListLayout,
  MAX_ZOOM,
  MIN_ZOOM,
  parseCsv,
  progressShort,
  progressText,
  saveListLayout,
  stepZoom,
  zoomLabel,
} from '@/lib/viewer'
import { isSettling, useDocumentsStore } from '@/stores/documents'
import StatusBadge from '@/components/StatusBadge.vue'
import DocThumb from '@/components/DocThumb.vue'
import TextViewer from '@/components/TextViewer.vue'
import DocumentViewer from '@/components/DocumentViewer.vue'
import DocumentsView from '@/views/DocumentsView.vue'
import { USER, json, mockFetch } from './helpers'

// pdf.js stand-in: a 3-page document whose pages are 600 × 800 at scale 1.
const pdfCalls = vi.hoisted(() => ({ opened: [] as string[], pages: [] as number[], renders: [] as { page: number; scale: number; width: number }[], destroyed: 0 }))
vi.mock('@/lib/pdf', () => ({
  PDFJS_DECODERS: '/pdfjs/',
  loadPdfjs: vi.fn(),
  openPdf: vi.fn(async (url: string) => {
    pdfCalls.opened.push(url)
    if (url.includes('locked')) {
      const e = new Error('No password given')
      e.name = 'PasswordException'
      return { promise: Promise.reject(e), destroy: async () => undefined }
    }
    const doc = {
      numPages: 3,
      getPage: async (n: number) => {
        pdfCalls.pages.push(n)
        return {
          getViewport: ({ scale }: { scale: number }) => ({ width: 600 * scale, height: 800 * scale, scale }),
          render: ({ viewport }: { viewport: { width: number; scale: number } }) => {
            pdfCalls.renders.push({ page: n, scale: viewport.scale, width: viewport.width })
            return { promise: Promise.resolve(), cancel: () => undefined }
          },
        }
      },
    }
    return {
      promise: Promise.resolve(doc),
      destroy: async () => {
        pdfCalls.destroyed++
      },
    }
  }),
}))

const baseDoc = {
  id: 'd1',
  owner_id: USER.id,
  owner_handle: USER.handle,
  filename: 'scan.jpg',
  content_type: 'image/jpeg',
  size_bytes: 1000,
  status: 'classified' as const,
  status_reason: null,
  ai_opt_out: false,
  topics: [],
  folder_id: null,
  last_error: null,
  sha256: null,
  classified_by: null,
  snippet: null,
  thumbnail_url: null as string | null,
  progress: null as { page: number; pages: number } | null,
  trashed_at: null,
  purge_at: null,
  duplicate_of: null,
  document_date: null,
  document_date_source: null,
  page_count: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

beforeEach(() => {
  setActivePinia(createPinia())
  setAccessToken('t')
  localStorage.clear()
  pdfCalls.opened.length = 0
  pdfCalls.pages.length = 0
  pdfCalls.renders.length = 0
  pdfCalls.destroyed = 0
})
afterEach(() => vi.unstubAllGlobals())

describe('viewer helpers', () => {
  it('steps zoom through fixed levels and stays within the limits', () => {
    expect(stepZoom(1, 1)).toBe(1.1)
    expect(stepZoom(1, -1)).toBe(0.9)
    // From a fitted scale between two steps, to the next step in that direction.
    expect(stepZoom(0.8, 1)).toBe(0.9)
    expect(stepZoom(0.8, -1)).toBe(0.75)
    expect(stepZoom(MAX_ZOOM, 1)).toBe(MAX_ZOOM)
    expect(stepZoom(MIN_ZOOM, -1)).toBe(MIN_ZOOM)
    expect(zoomLabel(1.25)).toBe('125 %')
  })

  it('fits a page to the box, and falls back to 100 % without a size', () => {
    expect(fitScale(300, 600)).toBe(0.5)
    expect(fitScale(0, 600)).toBe(1)
    expect(fitScale(300, 0)).toBe(1)
    expect(fitScale(100_000, 10)).toBe(MAX_ZOOM)
  })

  it('clamps typed page numbers and rejects words', () => {
    expect(clampPage('2', 3)).toBe(2)
    expect(clampPage('0', 3)).toBe(1)
    expect(clampPage('99', 3)).toBe(3)
    expect(clampPage(2.7, 3)).toBe(2)
    expect(clampPage('abc', 3)).toBeNull()
    expect(clampPage('', 3)).toBeNull()
  })

  it('says how far reading has come, only when there is something to say', () => {
    expect(progressText({ page: 3, pages: 12 })).toBe('Reading text (page 3 of 12)')
    expect(progressShort({ page: 3, pages: 12 })).toBe('Reading 3/12')
    expect(progressText({ page: 0, pages: 12 })).toBe('Reading text (page 1 of 12)')
    expect(progressText({ page: 14, pages: 12 })).toBe('Reading text (page 12 of 12)')
    expect(progressText({ page: 1, pages: 0 })).toBeNull()
    expect(progressText(null)).toBeNull()
    expect(progressShort(undefined)).toBeNull()
  })

  it('remembers the list layout, and survives storage that refuses', () => {
    expect(loadListLayout()).toBe('table')
    saveListLayout('grid')
    expect(localStorage.getItem('docuvault.documents.layout')).toBe('grid')
    expect(loadListLayout()).toBe('grid')
    const broken = {
      getItem: () => {
        throw new Error('denied')
      },
      setItem: () => {
        throw new Error('denied')
      },
    }
    expect(loadListLayout(broken)).toBe('table')
    expect(() => saveListLayout('grid', broken)).not.toThrow()
  })

  it('parses CSV with quotes, doubled quotes, CRLF and other delimiters', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\r\n').rows).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
    ])
    expect(parseCsv('a;b;c\n1;2;3').rows).toEqual([
      ['a', 'b', 'c'],
      ['1', '2', '3'],
    ])
    expect(parseCsv('"multi\nline",2\n').rows).toEqual([['multi\nline', '2']])
    const many = parseCsv(Array.from({ length: 10 }, (_, i) => `r${i},x`).join('\n'), 4)
    expect(many.rows).toHaveLength(4)
    expect(many.truncated).toBe(true)
    expect(parseCsv('a,b\n1,2\n', 2).truncated).toBe(false)
  })
})

describe('documents store: waiting for thumbnails', () => {
  it('keeps polling for a just-processed document until its thumbnail arrives', () => {
    const now = Date.parse('2026-01-01T00:01:00Z')
    expect(isSettling({ ...baseDoc, status: 'processing' }, now)).toBe(true)
    expect(isSettling({ ...baseDoc, thumbnail_url: null }, now)).toBe(true)
    expect(isSettling({ ...baseDoc, thumbnail_url: '/t.jpg' }, now)).toBe(false)
    // An older document without a thumbnail (none can be made), or a failed one.
    expect(isSettling({ ...baseDoc, thumbnail_url: null }, now + 10 * 60_000)).toBe(false)
    expect(isSettling({ ...baseDoc, status: 'failed', thumbnail_url: null }, now)).toBe(false)
  })
})

describe('StatusBadge', () => {
  it('shows page progress while processing and the plain status otherwise', () => {
    const w = mount(StatusBadge, { props: { status: 'processing', progress: { page: 3, pages: 12 } } })
    expect(w.text()).toContain('Reading 3/12')
    expect(w.attributes('title')).toBe('Reading text (page 3 of 12)')
    const done = mount(StatusBadge, { props: { status: 'classified', progress: { page: 3, pages: 12 } } })
    expect(done.text()).toBe('Classified')
    const plain = mount(StatusBadge, { props: { status: 'processing', progress: null } })
    expect(plain.text()).toBe('Processing')
  })
})

describe('DocThumb', () => {
  it('shows the thumbnail, or the type while there is none or it fails', async () => {
    const w = mount(DocThumb, { props: { url: '/thumb/1.jpg', contentType: 'application/pdf', name: 'a.pdf' } })
    expect(w.get('img').attributes('src')).toBe('/thumb/1.jpg')
    await w.get('img').trigger('error')
    expect(w.find('img').exists()).toBe(false)
    expect(w.get('[data-testid=thumbnail-placeholder]').text()).toBe('PDF')
    expect(w.emitted('expired')).toHaveLength(1)
    // A fresh URL shows again.
    await w.setProps({ url: '/thumb/2.jpg' })
    expect(w.get('img').attributes('src')).toBe('/thumb/2.jpg')
    const none = mount(DocThumb, { props: { url: null, contentType: 'image/jpeg', name: 'a.jpg' } })
    expect(none.text()).toBe('JPEG')
  })
})

describe('TextViewer', () => {
  it('shows CSV as a table and never renders markup', () => {
    const w = mount(TextViewer, { props: { text: 'name,note\nBob,<b>bold</b>\n', format: 'csv' } })
    expect(w.findAll('th').map((t) => t.text())).toEqual(['name', 'note'])
    expect(w.findAll('td').map((t) => t.text())).toEqual(['Bob', '<b>bold</b>'])
    expect(w.find('b').exists()).toBe(false)
  })
  it('shows extracted text as paragraphs and says when it is cut', () => {
    const w = mount(TextViewer, { props: { text: 'First para\nline two\n\n\nSecond <script>x</script>', format: 'prose', truncated: true } })
    expect(w.findAll('p').map((p) => p.text()).slice(0, 2)).toEqual(['First para\nline two', 'Second <script>x</script>'])
    expect(w.find('script').exists()).toBe(false)
    expect(w.text()).toContain('Showing the beginning only')
  })
})

function view(kind: string, url: string, contentType: string) {
  return json(200, { url, expires_at: '2026-01-01T00:05:00Z', content_type: contentType, kind })
}

describe('DocumentViewer', () => {
  it('shows an image inline with zoom', async () => {
    mockFetch({ 'GET /api/documents/d1/view': () => view('image', '/storage/signed-img', 'image/jpeg') })
    const w = mount(DocumentViewer, { props: { doc: baseDoc, extracted: null } })
    await flushPromises()
    expect(w.get('[data-testid=document-viewer]').attributes('data-kind')).toBe('image')
    const img = w.get('[data-testid=image-view]')
    expect(img.attributes('src')).toBe('/storage/signed-img')
    Object.defineProperty(img.element, 'naturalWidth', { value: 1000 })
    Object.defineProperty(img.element, 'naturalHeight', { value: 1400 })
    await img.trigger('load')
    expect(w.text()).toContain('1000 × 1400 px')
    await w.get('button[aria-label="Zoom in"]').trigger('click')
    expect(w.get('[data-testid=image-zoom]').text()).toBe('110 %')
    expect(img.attributes('style')).toContain('width: 1100px')
    await w.get('button[aria-label="Fit to viewer"]').trigger('click')
    expect(img.attributes('style') ?? '').not.toContain('width')
    expect(w.emitted('kind')?.at(-1)).toEqual(['image'])
  })

  it('fetches a text file through its view URL and shows a CSV as a table', async () => {
    const { calls } = mockFetch({
      'GET /api/documents/d1/view': () => view('text', '/storage/signed-csv', 'text/plain'),
      'GET /storage/signed-csv': () => new Response('a,b\n1,2\n', { headers: { 'Content-Type': 'text/plain' } }),
    })
    const w = mount(DocumentViewer, { props: { doc: { ...baseDoc, filename: 't.csv', content_type: 'text/csv' }, extracted: null } })
    await flushPromises()
    expect(calls.map((c) => c.url.split('?')[0])).toContain('/storage/signed-csv')
    expect(w.findAll('td').map((t) => t.text())).toEqual(['1', '2'])
  })

  it('shows the extracted text for what the browser must not show inline', async () => {
    mockFetch({ 'GET /api/documents/d1/view': () => view('download', '/storage/signed-docx', 'application/octet-stream') })
    const doc = { ...baseDoc, filename: 'c.docx', content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }
    const w = mount(DocumentViewer, { props: { doc, extracted: { text: 'Contract\n\nThe employee works.', truncated: false } as never } })
    await flushPromises()
    expect(w.get('[data-testid=document-viewer]').attributes('data-kind')).toBe('download')
    expect(w.get('[data-testid=text-viewer]').attributes('data-format')).toBe('prose')
    expect(w.findAll('[data-testid=text-viewer] p').map((p) => p.text())).toEqual(['Contract', 'The employee works.'])
    expect(w.emitted('kind')?.at(-1)).toEqual(['download'])
    await w.get('[data-testid=viewer-fallback] button').trigger('click')
    expect(w.emitted('download')).toHaveLength(1)
  })

  it('says the text is being read, with page progress, while a scan is processed', async () => {
    mockFetch({ 'GET /api/documents/d1/view': () => json(404, { code: 'not_found', message: 'Not found' }) })
    const doc = { ...baseDoc, content_type: 'image/tiff', status: 'processing' as const, progress: { page: 2, pages: 5 } }
    const w = mount(DocumentViewer, { props: { doc, extracted: null } })
    await flushPromises()
    expect(w.get('[data-testid=viewer-fallback]').text()).toContain('Reading text (page 2 of 5)')
  })

  it('opens a PDF in the lazily loaded pdf.js viewer with page navigation and zoom', async () => {
    mockFetch({ 'GET /api/documents/d1/view': () => view('pdf', '/storage/signed-pdf', 'application/pdf') })
    const w = mount(DocumentViewer, { props: { doc: { ...baseDoc, filename: 'a.pdf', content_type: 'application/pdf' }, extracted: null } })
    await vi.waitFor(async () => {
      await flushPromises()
      expect(w.find('[data-testid=pdf-viewer][data-rendered-page="1"]').exists()).toBe(true)
    })
    expect(pdfCalls.opened).toEqual(['/storage/signed-pdf'])
    expect(w.get('[data-testid=pdf-pages]').text()).toBe('of 3')
    expect(w.get('button[aria-label="Previous page"]').attributes('disabled')).toBeDefined()

    await w.get('button[aria-label="Next page"]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid=pdf-viewer]').attributes('data-rendered-page')).toBe('2')
    expect(pdfCalls.pages.at(-1)).toBe(2)

    // A typed page beyond the end goes to the last one.
    const input = w.get('[data-testid=pdf-page]')
    await input.setValue('42')
    await input.trigger('keydown', { key: 'Enter' })
    await flushPromises()
    expect(w.get('[data-testid=pdf-viewer]').attributes('data-rendered-page')).toBe('3')
    expect((input.element as HTMLInputElement).value).toBe('3')
    expect(w.get('button[aria-label="Next page"]').attributes('disabled')).toBeDefined()
    // The keyboard turns pages too.
    await w.get('[data-testid=pdf-viewer] [tabindex="0"]').trigger('keydown', { key: 'ArrowLeft' })
    await flushPromises()
    expect(w.get('[data-testid=pdf-viewer]').attributes('data-rendered-page')).toBe('2')

    // Zoom: the box has no width in jsdom, so "fit" is 100 %; one step in is 110 %.
    expect(w.get('[data-testid=pdf-zoom]').text()).toBe('100 %')
    await w.get('button[aria-label="Zoom in"]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid=pdf-zoom]').text()).toBe('110 %')
    expect(pdfCalls.renders.at(-1)?.width).toBeCloseTo(600 * 1.1 * (window.devicePixelRatio || 1))
    w.unmount()
    await flushPromises()
    expect(pdfCalls.destroyed).toBeGreaterThan(0)
  })

  it('explains a password-protected PDF', async () => {
    mockFetch({ 'GET /api/documents/d1/view': () => view('pdf', '/storage/locked-pdf', 'application/pdf') })
    const w = mount(DocumentViewer, { props: { doc: { ...baseDoc, filename: 'a.pdf', content_type: 'application/pdf' }, extracted: null } })
    await vi.waitFor(async () => {
      await flushPromises()
      expect(w.text()).toContain('protected by a password')
    })
  })
})

describe('documents list: grid of thumbnails', () => {
  async function render() {
    const items = [
      { ...baseDoc, id: 'a', filename: 'a.pdf', content_type: 'application/pdf', thumbnail_url: '/thumbs/a.jpg' },
      { ...baseDoc, id: 'b', filename: 'b.docx', content_type: 'text/plain', thumbnail_url: null, updated_at: '2020-01-01T00:00:00Z' },
    ]
    mockFetch({
      'GET /api/documents': () => json(200, { items, total: 2, total_exact: true, page: 1, per_page: 25 }),
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
    await router.push('/')
    await router.isReady()
    const w = mount(DocumentsView, { global: { plugins: [router] } })
    await flushPromises()
    return w
  }

  it('switches to the grid, shows thumbnails, and remembers the choice', async () => {
    const w = await render()
    expect(w.find('[data-testid=documents]').exists()).toBe(true)
    await w.get('[data-testid=layout-grid]').trigger('click')
    expect(w.find('[data-testid=documents]').exists()).toBe(false)
    const grid = w.get('[data-testid=documents-grid]')
    expect(grid.get('[data-doc="a.pdf"] img').attributes('src')).toBe('/thumbs/a.jpg')
    expect(grid.find('[data-doc="b.docx"] [data-testid=thumbnail-placeholder]').exists()).toBe(true)
    expect(localStorage.getItem('docuvault.documents.layout')).toBe('grid')
    useDocumentsStore().stopPolling()
    w.unmount()

    const again = await render()
    expect(again.find('[data-testid=documents-grid]').exists()).toBe(true)
    expect(again.get('[data-testid=layout-grid]').attributes('aria-pressed')).toBe('true')
    await again.get('[data-testid=layout-table]').trigger('click')
    expect(localStorage.getItem('docuvault.documents.layout')).toBe('table')
    again.unmount()
  })
})
