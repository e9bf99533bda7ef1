import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import { uploadFile, UploadCancelled } from '@/lib/upload'
import { useUploadsStore, UPLOAD_CONCURRENCY } from '@/stores/uploads'
import { useQuotaStore } from '@/stores/quota'
import { FakeXhr, flush, json, mockFetch } from './helpers'

const SLOT = (id: string) => ({
  document_id: id,
  upload_url: `http://127.0.0.1:8080/storage/${id}`,
  method: 'PUT',
  headers: { 'Content-Type': 'application/pdf' },
  expires_at: '2026-01-01T00:15:00Z',
})

function file(name = 'report.pdf', size = 1000, type = 'application/pdf') {
  return new File([new Uint8Array(size)], name, { type })
}

async function until(cond: () => boolean) {
  for (let i = 0; i < 50 && !cond(); i++) await flush()
  expect(cond()).toBe(true)
}

beforeEach(() => {
  setActivePinia(createPinia())
  setAccessToken('t')
  FakeXhr.instances = []
  vi.stubGlobal('XMLHttpRequest', FakeXhr)
})
afterEach(() => vi.unstubAllGlobals())

describe('upload flow', () => {
  it('asks for a URL, PUTs with the given headers and progress, then confirms', async () => {
    const { calls } = mockFetch({
      'POST /api/documents/upload-url': () => json(200, SLOT('d1')),
      'POST /api/documents/d1/confirm': () => json(200, { id: 'd1', size_bytes: 1000, used_bytes: 5000, status: 'queued' }),
    })
    const progress: number[] = []
    const phases: string[] = []
    const done = uploadFile(file(), 'folder-1', { onProgress: (l) => progress.push(l), onPhase: (p) => phases.push(p) })
    await until(() => FakeXhr.instances.length === 1)
    const xhr = FakeXhr.instances[0]
    expect(xhr.method).toBe('PUT')
    expect(xhr.url).toBe('http://127.0.0.1:8080/storage/d1')
    expect(xhr.headers).toEqual({ 'Content-Type': 'application/pdf' })
    expect(xhr.body).toBeInstanceOf(File)
    xhr.progress(400, 1000)
    xhr.respond(200)
    const res = await done
    expect(res.used_bytes).toBe(5000)
    expect(progress).toEqual([400, 1000])
    expect(phases).toEqual(['preparing', 'uploading', 'confirming'])
    expect(calls[0].body).toEqual({ filename: 'report.pdf', content_type: 'application/pdf', size_bytes: 1000, folder_id: 'folder-1' })
  })

  it('explains a full quota with the numbers', async () => {
    mockFetch({
      'POST /api/documents/upload-url': () => json(200, SLOT('d2')),
      'POST /api/documents/d2/confirm': () =>
        json(413, {
          code: 'quota_exceeded',
          message: 'Quota exceeded',
          detail: { used_bytes: 99 * 1048576, limit_bytes: 100 * 1048576, rejected_bytes: 5 * 1048576 },
        }),
    })
    const store = useUploadsStore()
    const [item] = store.add([file('big.pdf', 5)])
    await until(() => FakeXhr.instances.length === 1)
    FakeXhr.instances[0].respond(200)
    await until(() => store.items[0].state === 'error')
    expect(store.items[0].error).toBe('Not enough space: this file needs 5 MB, only 1 MB of 100 MB is free.')
    expect(item.key).toBe(store.items[0].key)
  })

  it('says the upload did not reach storage when confirm answers upload_not_found', async () => {
    // The server's code for a confirm whose object is missing (the UI used to check a code,
    // `object_missing`, that the server never sends, and fell back to the raw message).
    mockFetch({
      'POST /api/documents/upload-url': () => json(200, SLOT('d5')),
      'POST /api/documents/d5/confirm': () =>
        json(422, { code: 'upload_not_found', message: 'Upload not found — the upload URL may have expired' }),
    })
    const store = useUploadsStore()
    store.add([file('lost.pdf')])
    await until(() => FakeXhr.instances.length === 1)
    FakeXhr.instances[0].respond(200)
    await until(() => store.items[0].state === 'error')
    expect(store.items[0].error).toBe('The upload did not reach storage; please try again.')
  })

  it('names an unsupported type and a too-big file in words', async () => {
    mockFetch({
      'POST /api/documents/upload-url': (c) =>
        (c.body as { filename: string }).filename.endsWith('.exe')
          ? json(415, { code: 'unsupported_media_type', message: 'nope' })
          : json(413, { code: 'payload_too_large', message: 'The file exceeds the 100 MB limit' }),
    })
    const store = useUploadsStore()
    store.add([file('tool.exe', 3, 'application/x-msdownload'), file('huge.pdf', 3)])
    await until(() => store.items.every((i) => i.state === 'error'))
    expect(store.items[0].error).toMatch(/not supported/)
    expect(store.items[1].error).toMatch(/Too big.*100 MB limit/)
  })

  it('cancels an upload in flight and drops the pending document', async () => {
    const { calls } = mockFetch({
      'POST /api/documents/upload-url': () => json(200, SLOT('d3')),
      'DELETE /api/documents/d3': () => new Response(null, { status: 204 }),
    })
    const store = useUploadsStore()
    store.add([file('c.pdf')])
    await until(() => FakeXhr.instances.length === 1)
    store.cancel(store.items[0].key)
    await until(() => store.items[0].state === 'cancelled')
    expect(FakeXhr.instances[0].aborted).toBe(true)
    await until(() => calls.some((c) => c.method === 'DELETE'))
    expect(store.items[0].error).toBeNull()
  })

  it('rejects with UploadCancelled when aborted', async () => {
    mockFetch({ 'POST /api/documents/upload-url': () => json(200, SLOT('d4')), 'DELETE /api/documents/d4': () => new Response(null, { status: 204 }) })
    const ctl = new AbortController()
    const p = uploadFile(file(), null, {}, ctl.signal)
    await until(() => FakeXhr.instances.length === 1)
    ctl.abort()
    await expect(p).rejects.toBeInstanceOf(UploadCancelled)
  })

  it(`runs at most ${UPLOAD_CONCURRENCY} at once and updates the quota after each confirm`, async () => {
    let n = 0
    mockFetch({
      'POST /api/documents/upload-url': () => json(200, SLOT(`m${++n}`)),
      ...Object.fromEntries(
        [1, 2, 3].map((i) => [`POST /api/documents/m${i}/confirm`, () => json(200, { id: `m${i}`, size_bytes: 10, used_bytes: i * 10, status: 'queued' })]),
      ),
    })
    const store = useUploadsStore()
    const quota = useQuotaStore()
    store.add([file('1.pdf', 10), file('2.pdf', 10), file('3.pdf', 10)])
    await until(() => FakeXhr.instances.length === UPLOAD_CONCURRENCY)
    await flush()
    expect(FakeXhr.instances).toHaveLength(UPLOAD_CONCURRENCY)
    expect(store.items[2].state).toBe('waiting')
    FakeXhr.instances[0].respond(200)
    await until(() => FakeXhr.instances.length === 3)
    FakeXhr.instances[1].respond(200)
    FakeXhr.instances[2].respond(200)
    await until(() => store.items.every((i) => i.state === 'done'))
    expect(quota.used).toBeGreaterThan(0)
    expect(store.completed).toBe(3)
  })
})
