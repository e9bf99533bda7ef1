import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import { exportVault } from '@/lib/download'
import { uploadErrorMessage, uploadVersion } from '@/lib/upload'
import {
  deleteForever,
  deleteVersion,
  duplicateExistingId,
  emptyTrash,
  listTrash,
  listVersions,
  makeVersionCurrent,
  restoreDocument,
  trashDocument,
  versionDownloadUrl,
} from '@/lib/vault'
import { useDocumentsStore } from '@/stores/documents'
import { useQuotaStore } from '@/stores/quota'
import { useToastStore } from '@/stores/toasts'
import { useTrashStore } from '@/stores/trash'
import { useUploadsStore } from '@/stores/uploads'
import { FakeXhr, USER, flush, json, mockFetch } from './helpers'

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
const QUOTA_BODY = {
  code: 'quota_exceeded',
  message: 'Quota exceeded',
  detail: { used_bytes: 900, reserved_bytes: 0, limit_bytes: 1000, rejected_bytes: 2048 },
}
const noContent = () => new Response(null, { status: 204 })

async function until(cond: () => boolean) {
  for (let i = 0; i < 50 && !cond(); i++) await flush()
  expect(cond()).toBe(true)
}

beforeEach(() => {
  setActivePinia(createPinia())
  setAccessToken('t')
  FakeXhr.instances = []
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('vault endpoints (CONTRACT.md)', () => {
  it('sends each call to the contract path with the bearer token', async () => {
    const { calls } = mockFetch({
      'DELETE /api/documents/d1': noContent,
      'POST /api/documents/d1/restore': () => json(200, doc('d1')),
      'GET /api/documents': () => json(200, { items: [doc('d1', { trashed_at: '2026-01-02T00:00:00Z' })], total: 1, page: 1, per_page: 50, total_exact: true }),
      'DELETE /api/documents/trash': () => json(200, { deleted: 3 }),
      'GET /api/documents/d1/versions': () => json(200, { items: [{ id: 'v1' }] }),
      'GET /api/documents/d1/versions/v1/download': () => json(200, { url: 'http://x/v1', expires_at: 'z' }),
      'POST /api/documents/d1/versions/v1/make-current': () => json(200, doc('d1', { status: 'queued' })),
      'DELETE /api/documents/d1/versions/v1': noContent,
    })
    await trashDocument('d1')
    await deleteForever('d1')
    expect((await restoreDocument('d1')).id).toBe('d1')
    expect((await listTrash({ page: 2, per_page: 50 })).items[0].trashed_at).toBe('2026-01-02T00:00:00Z')
    expect(await emptyTrash()).toEqual({ deleted: 3 })
    expect((await listVersions('d1')).map((v) => v.id)).toEqual(['v1'])
    expect((await versionDownloadUrl('d1', 'v1')).url).toBe('http://x/v1')
    expect((await makeVersionCurrent('d1', 'v1')).status).toBe('queued')
    await deleteVersion('d1', 'v1')
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'DELETE /api/documents/d1',
      'DELETE /api/documents/d1?permanent=true',
      'POST /api/documents/d1/restore',
      'GET /api/documents?page=2&per_page=50&trashed=true',
      'DELETE /api/documents/trash',
      'GET /api/documents/d1/versions',
      'GET /api/documents/d1/versions/v1/download',
      'POST /api/documents/d1/versions/v1/make-current',
      'DELETE /api/documents/d1/versions/v1',
    ])
    expect(calls.every((c) => c.headers.Authorization === 'Bearer t')).toBe(true)
  })

  it('reads existing_id from a 409 duplicate_document refusal', async () => {
    mockFetch({
      'POST /api/documents/d9/confirm': () => json(409, { code: 'duplicate_document', message: 'You already have this file', existing_id: 'orig-1' }),
    })
    const { api } = await import('@/api/client')
    const err = await api.post('/api/documents/d9/confirm').catch((e) => e)
    expect(duplicateExistingId(err)).toBe('orig-1')
    expect(uploadErrorMessage(err, 10)).toBe('Already in your vault')
    // Also when the server nests it under `error`.
    mockFetch({
      'POST /api/documents/d9/confirm': () => json(409, { error: { code: 'duplicate_document', message: 'dup', existing_id: 'orig-2' } }),
    })
    expect(duplicateExistingId(await api.post('/api/documents/d9/confirm').catch((e) => e))).toBe('orig-2')
    expect(duplicateExistingId(new Error('x'))).toBeNull()
  })
})

describe('new version upload', () => {
  beforeEach(() => vi.stubGlobal('XMLHttpRequest', FakeXhr))

  it('asks for a version slot, PUTs with its headers, then confirms that version', async () => {
    const { calls } = mockFetch({
      'POST /api/documents/d1/versions/upload-url': () =>
        json(201, { document_id: 'd1', version_id: 'v2', upload_url: 'http://storage/v2', headers: { 'Content-Type': 'text/plain', 'x-amz-meta': 'm' }, expires_at: 'z' }),
      'POST /api/documents/d1/versions/v2/confirm': () =>
        json(200, { document_id: 'd1', version_id: 'v2', size_bytes: 5, sha256: 'ab', used_bytes: 777, status: 'queued' }),
    })
    const phases: string[] = []
    const created: string[] = []
    const done = uploadVersion('d1', new File(['hello'], 'notes.txt', { type: 'text/plain' }), { onPhase: (p) => phases.push(p), onCreated: (id) => created.push(id) })
    await until(() => FakeXhr.instances.length === 1)
    const xhr = FakeXhr.instances[0]
    expect(xhr.method).toBe('PUT')
    expect(xhr.url).toBe('http://storage/v2')
    expect(xhr.headers).toEqual({ 'Content-Type': 'text/plain', 'x-amz-meta': 'm' })
    xhr.respond(200)
    const res = await done
    expect(res.used_bytes).toBe(777)
    expect(created).toEqual(['v2'])
    expect(phases).toEqual(['preparing', 'uploading', 'confirming'])
    // The version slot takes no folder.
    expect(calls[0].body).toEqual({ filename: 'notes.txt', content_type: 'text/plain', size_bytes: 5 })
    expect(calls.map((c) => c.url)).toEqual(['/api/documents/d1/versions/upload-url', '/api/documents/d1/versions/v2/confirm'])
  })

  it('explains a full quota with the numbers, as for uploads', async () => {
    mockFetch({ 'POST /api/documents/d1/versions/upload-url': () => json(413, QUOTA_BODY) })
    const err = await uploadVersion('d1', new File(['x'], 'a.txt')).catch((e) => e)
    expect(uploadErrorMessage(err, 1)).toMatch(/^Not enough space: this file needs 2 KB/)
  })
})

describe('uploads store', () => {
  beforeEach(() => vi.stubGlobal('XMLHttpRequest', FakeXhr))

  it('remembers the existing document when the server refuses a duplicate', async () => {
    mockFetch({
      'POST /api/documents/upload-url': () => json(200, { document_id: 'new', upload_url: 'http://s/new', method: 'PUT', headers: {}, expires_at: 'z' }),
      'POST /api/documents/new/confirm': () => json(409, { code: 'duplicate_document', message: 'Duplicate', existing_id: 'orig' }),
    })
    const uploads = useUploadsStore()
    const [item] = uploads.add([new File(['same'], 'same.pdf', { type: 'application/pdf' })])
    await until(() => FakeXhr.instances.length === 1)
    FakeXhr.instances[0].respond(200)
    await until(() => uploads.items[0].state === 'error')
    expect(uploads.items[0].existingId).toBe('orig')
    expect(uploads.items[0].error).toBe('Already in your vault')
    expect(item.key).toBe(uploads.items[0].key)
  })
})

describe('documents store: delete moves to the trash, with Undo', () => {
  it('trashes, offers Undo, and Undo restores and reloads the list', async () => {
    let listed = [doc('a')]
    const { calls } = mockFetch({
      'GET /api/documents': () => json(200, { items: listed, total: listed.length, page: 1, per_page: 25, total_exact: true }),
      'DELETE /api/documents/a': () => {
        listed = []
        return noContent()
      },
      'POST /api/documents/a/restore': () => {
        listed = [doc('a')]
        return json(200, doc('a'))
      },
      'GET /api/auth/me/quota': () => json(200, { used_bytes: 2048, limit_bytes: 10_000 }),
    })
    const s = useDocumentsStore()
    const toasts = useToastStore()
    await s.load({})
    const restored = vi.fn()
    await s.trash(doc('a'), restored)
    expect(s.items).toHaveLength(0)
    // Trashed documents still count: the quota the server reports is kept.
    expect(useQuotaStore().used).toBe(2048)
    const toast = toasts.items.at(-1)!
    expect(toast.text).toBe('Moved a.pdf to the trash')
    expect(toast.action?.label).toBe('Undo')
    toasts.act(toast.id)
    await until(() => s.items.length === 1)
    expect(restored).toHaveBeenCalled()
    expect(calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toContain('POST /api/documents/a/restore')
    expect(toasts.items.some((t) => t.text === 'Restored a.pdf')).toBe(true)
    // The undo toast is gone and cannot run twice.
    expect(toasts.items.find((t) => t.id === toast.id)).toBeUndefined()
  })

  it('says why a restore over quota is refused, in the words of uploads', async () => {
    mockFetch({ 'POST /api/documents/a/restore': () => json(413, QUOTA_BODY) })
    const ok = await useDocumentsStore().restore(doc('a'))
    expect(ok).toBe(false)
    const t = useToastStore().items.at(-1)!
    expect(t.kind).toBe('error')
    expect(t.text).toContain('Not enough space: this file needs 2 KB, only 100 B of 1000 B is free.')
  })
})

describe('trash store', () => {
  it('lists the trash, restores, deletes forever and empties', async () => {
    let items = [doc('a', { trashed_at: '2026-01-02T00:00:00Z', purge_at: '2026-02-01T00:00:00Z' }), doc('b')]
    const { calls } = mockFetch({
      'GET /api/documents': () => json(200, { items, total: items.length, page: 1, per_page: 50, total_exact: true }),
      'POST /api/documents/a/restore': () => json(200, doc('a')),
      'DELETE /api/documents/b': noContent,
      'DELETE /api/documents/trash': () => {
        items = []
        return json(200, { deleted: 0 })
      },
      'GET /api/auth/me/quota': () => json(200, { used_bytes: 0, limit_bytes: 100 }),
    })
    const t = useTrashStore()
    await t.load(1)
    expect(t.total).toBe(2)
    expect(calls[0].url).toContain('trashed=true')
    await t.restore(t.items[0])
    expect(t.items.map((d) => d.id)).toEqual(['b'])
    await t.deleteForever('b')
    expect(calls.map((c) => c.url)).toContain('/api/documents/b?permanent=true')
    expect(t.items).toHaveLength(0)
    expect(t.total).toBe(0)
    expect(calls.at(-1)!.url).toBe('/api/auth/me/quota')
    expect(await t.empty()).toBe(0)
  })

  it('turns a 413 on restore into the quota message and keeps the document', async () => {
    mockFetch({
      'GET /api/documents': () => json(200, { items: [doc('a')], total: 1, page: 1, per_page: 50, total_exact: true }),
      'POST /api/documents/a/restore': () => json(413, QUOTA_BODY),
    })
    const t = useTrashStore()
    await t.load(1)
    await expect(t.restore(t.items[0])).rejects.toThrow(/^Not enough space: this file needs 2 KB/)
    expect(t.items).toHaveLength(1)
  })
})

describe('export', () => {
  let clicked: { href: string; download: string }[]
  beforeEach(() => {
    clicked = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.href, download: this.download })
    })
  })

  it('asks for a signed export link and navigates to it', async () => {
    const { calls } = mockFetch({ 'POST /api/me/export-url': () => json(200, { url: 'http://127.0.0.1/export/signed?sig=1', expires_at: 'z' }) })
    await exportVault()
    expect(calls[0].headers.Authorization).toBe('Bearer t')
    expect(clicked).toEqual([{ href: 'http://127.0.0.1/export/signed?sig=1', download: '' }])
  })

  it('reports other failures', async () => {
    mockFetch({ 'POST /api/me/export-url': () => json(500, { code: 'internal_error', message: 'Something went wrong' }) })
    await expect(exportVault()).rejects.toThrow('Something went wrong')
    expect(clicked).toEqual([])
  })
})
