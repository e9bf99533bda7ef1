// Issue 16 (plain words, calm feedback): the wording functions, the retry rule of
// uploads, the upload panel's order and Retry, and the one toast per batch.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { ApiError, setAccessToken } from '@/api/client'
import TopicChip from '@/components/TopicChip.vue'
import UploadPanel from '@/components/UploadPanel.vue'
import { canRetryUpload, StorageError, UploadCancelled } from '@/lib/upload'
import { batchSummary, classifierName, STATUS_LABELS, statusLabel, topicSourceLabel } from '@/lib/wording'
import { useToastStore } from '@/stores/toasts'
import { useUploadsStore } from '@/stores/uploads'
import { FakeXhr, flush, json, mockFetch } from './helpers'

const api = (status: number, code = 'x') => new ApiError(status, code as never, 'm')

describe('wording', () => {
  it('says how sure the classifier was, and who chose a topic, in words', () => {
    expect(topicSourceLabel('ai', 0.78)).toBe('78 % sure · automatic')
    expect(topicSourceLabel('ai', 0.784)).toBe('78 % sure · automatic')
    expect(topicSourceLabel('ai', 1)).toBe('100 % sure · automatic')
    expect(topicSourceLabel('ai', 0)).toBe('0 % sure · automatic')
    expect(topicSourceLabel('ai', 1.7)).toBe('100 % sure · automatic')
    expect(topicSourceLabel('ai', null)).toBe('automatic')
    expect(topicSourceLabel('ai', Number.NaN)).toBe('automatic')
    expect(topicSourceLabel('user', null)).toBe('chosen by you')
    expect(topicSourceLabel('user', null, false)).toBe('chosen by hand')
    expect(topicSourceLabel(undefined)).toBeNull()
  })

  it('shows the words on the chip, never "AI78%"', () => {
    const w = mount(TopicChip, { props: { name: 'Taxes', source: 'ai', confidence: 0.78 } })
    expect(w.text()).toContain('Taxes')
    expect(w.get('[data-testid=topic-how]').text()).toContain('78 % sure · automatic')
    expect(w.text()).not.toMatch(/AI\s*\d/)
    const mine = mount(TopicChip, { props: { name: 'Home', source: 'user' } })
    expect(mine.get('[data-testid=topic-how]').text()).toContain('chosen by you')
    const plain = mount(TopicChip, { props: { name: 'Home' } })
    expect(plain.find('[data-testid=topic-how]').exists()).toBe(false)
  })

  it('calls an unclassified document "No topic" everywhere, and never "Unclassified"', () => {
    expect(statusLabel('unclassified')).toBe('No topic')
    expect(Object.values(STATUS_LABELS)).not.toContain('Unclassified')
    expect(statusLabel('classified')).toBe('Classified')
    expect(statusLabel('something-new')).toBe('something-new')
  })

  it('names the classifier plainly', () => {
    expect(classifierName('builtin')).toBe('the built-in offline classifier')
    expect(classifierName('openai')).toBe('OpenAI')
    expect(classifierName('custom')).toBe('custom')
  })

  it('sums up a batch', () => {
    expect(batchSummary({ processed: 12, failed: 1 })).toBe('12 documents processed · 1 failed')
    expect(batchSummary({ processed: 1, failed: 0 })).toBe('1 document processed')
    expect(batchSummary({ processed: 3, failed: 0 })).toBe('3 documents processed')
    expect(batchSummary({ processed: 0, failed: 2 })).toBe('2 documents failed')
  })
})

describe('the retry rule of uploads', () => {
  it('offers a retry where one can succeed', () => {
    for (const e of [
      new StorageError(0),
      new StorageError(500),
      new StorageError(503),
      api(429, 'rate_limited'),
      api(500, 'internal'),
      api(502, 'http_502'),
      api(503, 'service_unavailable'),
      api(408, 'http_408'),
      api(422, 'upload_not_found'),
      new UploadCancelled(),
      new TypeError('Failed to fetch'),
    ]) {
      expect(canRetryUpload(e), String(e)).toBe(true)
    }
  })

  it('offers none where the same file fails the same way', () => {
    for (const e of [
      api(413, 'quota_exceeded'),
      api(413, 'payload_too_large'),
      api(415, 'unsupported_media_type'),
      api(422, 'validation_failed'),
      api(409, 'duplicate_document'),
      api(400, 'invalid_filename'),
      api(403, 'forbidden'),
      api(404, 'not_found'),
      new StorageError(403),
      new StorageError(413),
    ]) {
      expect(canRetryUpload(e), `${e.name} ${(e as { status?: number }).status}`).toBe(false)
    }
  })
})

const SLOT = (id: string) => ({
  document_id: id,
  upload_url: `http://127.0.0.1:8080/storage/${id}`,
  method: 'PUT',
  headers: {},
  expires_at: '2026-01-01T00:15:00Z',
})
const file = (name: string) => new File([new Uint8Array(10)], name, { type: 'application/pdf' })
async function until(cond: () => boolean) {
  for (let i = 0; i < 100 && !cond(); i++) await flush()
  expect(cond()).toBe(true)
}

describe('uploads: failures first, retry only where it helps, one toast per batch', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setAccessToken('t')
    FakeXhr.instances = []
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.useRealTimers()
  })

  it('lists failures first and offers Retry only on the retryable one', async () => {
    mockFetch({
      'POST /api/documents/upload-url': (c) => {
        const name = (c.body as { filename: string }).filename
        if (name === 'virus.pdf') return json(415, { code: 'unsupported_media_type', message: 'no' })
        return json(200, SLOT(name))
      },
      'POST /api/documents/ok.pdf/confirm': () => json(200, { id: 'ok.pdf', size_bytes: 10, used_bytes: 10, status: 'queued' }),
      'POST /api/documents/flaky.pdf/confirm': () => json(503, { code: 'service_unavailable', message: 'busy' }),
      'GET /api/documents/ok.pdf': () => json(200, { id: 'ok.pdf', status: 'queued' }),
    })
    const store = useUploadsStore()
    store.add([file('ok.pdf'), file('flaky.pdf'), file('virus.pdf')])
    await until(() => FakeXhr.instances.length >= 1)
    for (let i = 0; i < 3 && FakeXhr.instances.length; i++) {
      for (const x of FakeXhr.instances.splice(0)) x.respond(200)
      await until(() => !store.items.some((it) => it.state === 'uploading' || it.state === 'preparing') || FakeXhr.instances.length > 0)
    }
    await until(() => store.items.every((i) => ['done', 'error'].includes(i.state)))
    const w = mount(UploadPanel, { global: { stubs: { RouterLink: true } } })
    const rows = w.findAll('[data-upload]').map((r) => [r.attributes('data-upload'), r.attributes('data-state')])
    expect(rows.slice(0, 2).every(([, s]) => s === 'error')).toBe(true)
    expect(rows[2]).toEqual(['ok.pdf', 'done'])
    const retries = w.findAll('[data-testid=upload-retry]').map((b) => b.attributes('aria-label'))
    expect(retries).toEqual(['Retry upload of flaky.pdf'])
    // The unsupported file cannot be retried, even by calling the store.
    const virus = store.items.find((i) => i.name === 'virus.pdf')!
    store.retry(virus.key)
    expect(virus.state).toBe('error')
    w.unmount()
  })

  it('says once, when every document is uploaded and processed, how the batch went', async () => {
    const status: Record<string, string> = { a: 'queued', b: 'processing' }
    const { calls } = mockFetch({
      'POST /api/documents/upload-url': (c) => json(200, SLOT((c.body as { filename: string }).filename)),
      'POST /api/documents/a/confirm': () => json(200, { id: 'a', size_bytes: 10, used_bytes: 10, status: 'queued' }),
      'POST /api/documents/b/confirm': () => json(200, { id: 'b', size_bytes: 10, used_bytes: 20, status: 'queued' }),
      'POST /api/documents/c/confirm': () => json(500, { code: 'internal', message: 'boom' }),
      'GET /api/documents/a': () => json(200, { id: 'a', status: status.a }),
      'GET /api/documents/b': () => json(200, { id: 'b', status: status.b }),
    })
    vi.useFakeTimers()
    const tick = () => vi.advanceTimersByTimeAsync(1)
    const store = useUploadsStore()
    const said: string[] = []
    useToastStore().$onAction(({ name, args }) => {
      if (name === 'push') said.push(String(args[0]))
    })
    store.add([file('a'), file('b'), file('c')])
    for (let i = 0; i < 200 && store.items.some((it) => !['done', 'error'].includes(it.state)); i++) {
      for (const x of FakeXhr.instances.splice(0)) x.respond(200)
      await tick()
    }
    expect(store.items.map((i) => i.state)).toEqual(['done', 'done', 'error'])
    expect(said).toEqual([])
    // Processing: polled in upload order, stopping at the first still in progress.
    await vi.advanceTimersByTimeAsync(2100)
    expect(calls.filter((c) => c.url === '/api/documents/a').length).toBeGreaterThan(0)
    expect(calls.filter((c) => c.url === '/api/documents/b')).toHaveLength(0)
    status.a = 'classified'
    await vi.advanceTimersByTimeAsync(2100)
    expect(said).toEqual([])
    status.b = 'failed'
    await vi.advanceTimersByTimeAsync(2100)
    // b failed processing, c failed to upload.
    expect(said).toEqual(['1 document processed · 2 failed'])
    // Once: nothing more is polled or said.
    const polled = calls.length
    await vi.advanceTimersByTimeAsync(10_000)
    expect(calls.length).toBe(polled)
    expect(said).toHaveLength(1)
  })
})
