// End-to-end test of the web UI in a real browser (Debian Chromium via playwright-core).
//
//   BASE_URL=http://127.0.0.1:8080 ADMIN_LOGIN=admin@example.com ADMIN_PASSWORD=… node e2e/run.mjs
//
// Env: BASE_URL (required), ADMIN_LOGIN + ADMIN_PASSWORD (the bootstrap admin),
// SCREENSHOT_DIR (default ../.ci/artifacts/screenshots), CHROMIUM (default /usr/bin/chromium),
// E2E_STORAGE_ORIGIN (where uploads must go; default BASE_URL, the S3 endpoint with S3),
// E2E_PENDING=pipeline,search to report (not fail) steps whose server feature has not
// landed yet. Prints one line per step and "N passed, N failed" at the end.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { makeDocx, makePdf } from './files.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const BASE = (process.env.BASE_URL ?? '').replace(/\/$/, '')
if (!BASE) {
  console.error('BASE_URL is required')
  process.exit(2)
}
const SHOTS = resolve(process.env.SCREENSHOT_DIR ?? join(HERE, '..', '..', '.ci', 'artifacts', 'screenshots'))
const ADMIN_LOGIN = process.env.ADMIN_LOGIN ?? ''
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? ''
const PENDING = new Set((process.env.E2E_PENDING ?? '').split(',').map((s) => s.trim()).filter(Boolean))
const PROCESS_TIMEOUT = Number(process.env.E2E_PROCESS_TIMEOUT_MS ?? 90_000)
mkdirSync(SHOTS, { recursive: true })

const results = { passed: 0, failed: 0, pending: 0 }
const problems = []

// ---- helpers -------------------------------------------------------------------------

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of s.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c)
    if (v < 0) throw new Error(`bad base32 character ${c}`)
    bits += v.toString(2).padStart(5, '0')
  }
  const bytes = []
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2))
  return Buffer.from(bytes)
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits). */
function totp(secret, step = Math.floor(Date.now() / 30_000)) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest()
  const off = mac[mac.length - 1] & 0x0f
  const code = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000
  return String(code).padStart(6, '0')
}

async function step(name, fn, { pending } = {}) {
  const t0 = Date.now()
  try {
    await fn()
    results.passed++
    console.log(`ok    ${name} (${Date.now() - t0} ms)`)
  } catch (e) {
    if (pending && PENDING.has(pending)) {
      results.pending++
      console.log(`PEND  ${name}: ${e.message.split('\n')[0]} (server feature "${pending}" not landed; E2E_PENDING)`)
      return
    }
    results.failed++
    problems.push(name)
    console.log(`FAIL  ${name}: ${e.stack ?? e}`)
    await shot(`FAILED-${name.replace(/\W+/g, '-')}`).catch(() => undefined)
  }
}

let page
async function shot(name) {
  // From the top, so the sticky header and sidebar sit where a reader expects them.
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg)
}
async function waitFor(fn, what, timeout = 15_000) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    await page.waitForTimeout(200)
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
}
const quotaUsed = () => page.getAttribute('[data-testid=quota] [role=progressbar]', 'data-used').then(Number)

async function signIn(login, password) {
  await page.goto(`${BASE}/login`)
  await page.fill('#login', login)
  await page.fill('#password', password)
  await page.click('button[type=submit]')
}
async function signOut() {
  await page.click('[data-testid=sign-out]')
  await page.waitForURL(/\/login/)
}

// ---- run -----------------------------------------------------------------------------

const profile = mkdtempSync(join(tmpdir(), 'docuvault-e2e-'))
const downloads = join(profile, 'downloads')
mkdirSync(downloads)
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  acceptDownloads: true,
  downloadsPath: downloads,
  viewport: { width: 1280, height: 860 },
  colorScheme: 'light',
})
page = context.pages()[0] ?? (await context.newPage())
page.setDefaultTimeout(15_000)
const browserErrors = []
page.on('console', (m) => {
  if (m.type() === 'error') browserErrors.push(m.text())
})
page.on('pageerror', (e) => browserErrors.push(String(e)))
// Where the browser sent the file bytes (docuvault itself, or S3 through presigned URLs).
const putOrigins = new Set()
page.on('request', (r) => {
  if (r.method() === 'PUT') putOrigins.add(new URL(r.url()).origin)
})
const STORAGE_ORIGIN = process.env.E2E_STORAGE_ORIGIN ?? BASE

const id = randomBytes(3).toString('hex')
const user = { handle: `e2e-${id}`, email: `e2e-${id}@example.com`, password: `pw-${randomBytes(6).toString('hex')}` }
// A word that only the PDF contains, to prove search reads inside it.
const MARKER = `quokkaline${id}`
const pdf = await makePdf(
  context,
  `<html><body style="font-family: sans-serif; padding: 40px">
     <h1>Home insurance policy ${id}</h1>
     <p>This policy covers the house against fire, storm and water damage. The yearly premium
     is due every March. Keyword for the search test: ${MARKER}.</p>
     <p>Insurance policy number HP-${id}. Deductible of 500 euros per claim.</p>
   </body></html>`,
)
const docx = makeDocx([
  `Employment contract ${id}`,
  'The employee works forty hours per week. Salary is paid monthly.',
  'Either party may terminate the contract with three months notice.',
])
const files = join(profile, 'files')
mkdirSync(files)
const pdfPath = join(files, `insurance-${id}.pdf`)
const docxPath = join(files, `contract-${id}.docx`)
writeFileSync(pdfPath, pdf)
writeFileSync(docxPath, docx)
const pdfName = `insurance-${id}.pdf`
const docxName = `contract-${id}.docx`
console.log(`base ${BASE}; user ${user.handle}; pdf ${pdf.length} B; docx ${docx.length} B; screenshots in ${SHOTS}`)

try {
  await step('sign-in page renders under the CSP', async () => {
    await page.goto(`${BASE}/`)
    await page.waitForURL(/\/login/)
    await page.waitForSelector('#login')
    await shot('01-login')
  })

  await step('wrong credentials and rate limiting are explained in words', async () => {
    const ghost = `ghost-${id}`
    await page.fill('#login', ghost)
    await page.fill('#password', 'not-the-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('[role=alert] >> text=Wrong e-mail/handle or password')
    let limited = false
    for (let i = 0; i < 15 && !limited; i++) {
      await page.waitForSelector('button[type=submit]:not([disabled])')
      await page.click('button[type=submit]')
      await page.waitForTimeout(150)
      limited = !!(await page.$('[role=alert] >> text=/Try again in \\d+ (s|min)/'))
    }
    assert(limited, 'the rate-limit message with the wait time appeared')
    assert(await page.$('button[type=submit][disabled]'), 'the button waits out the limit')
    await shot('01a-rate-limited')
    await page.goto(`${BASE}/login`)
  })

  await step('register a new account', async () => {
    await page.click('text=Create an account')
    await page.waitForSelector('#handle')
    await page.fill('#handle', user.handle)
    await page.fill('#email', user.email)
    await page.fill('#password', user.password)
    await page.fill('#confirm', user.password)
    await shot('02-register')
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=empty]')
    assert((await page.textContent('[data-testid=whoami]'))?.trim() === user.handle, 'handle shown in the header')
    await waitFor(async () => (await quotaUsed()) === 0, 'quota bar at 0')
    await shot('03-empty-vault')
  })

  await step('the session survives a reload (silent refresh through the cookie)', async () => {
    await page.reload()
    await page.waitForSelector('[data-testid=empty]')
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie)
    assert(!/refresh|eyJ/.test(stored), `no token readable by JavaScript (found ${stored})`)
  })

  await step('create a topic', async () => {
    await page.goto(`${BASE}/organize`)
    await page.click('text=New topic')
    await page.fill('#topic-name', 'Insurance')
    await page.fill('#topic-desc', 'Insurance policies, premiums, claims and coverage')
    await page.click('dialog button[type=submit]')
    await page.waitForSelector('[data-testid=topic-list] >> text=Insurance')
    await page.keyboard.press('Escape')
    await shot('04-organize')
  })

  await step('upload a PDF and a DOCX with progress', async () => {
    await page.goto(`${BASE}/`)
    await page.waitForSelector('[data-testid=empty]')
    // Record every state each upload row goes through.
    await page.evaluate(() => {
      const seen = (window.__uploadStates = {})
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-upload]')) {
          const name = el.getAttribute('data-upload')
          ;(seen[name] ??= new Set()).add(el.getAttribute('data-state'))
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
    })
    await page.setInputFiles('[data-testid=file-input]', [pdfPath, docxPath])
    await page.waitForSelector('[data-testid=upload-panel]')
    await waitFor(
      () => page.evaluate(() => document.querySelectorAll('[data-upload][data-state=done]').length === 2),
      'both uploads done',
      30_000,
    )
    const states = await page.evaluate(() => Object.fromEntries(Object.entries(window.__uploadStates).map(([k, v]) => [k, [...v]])))
    for (const name of [pdfName, docxName]) {
      assert(states[name]?.includes('uploading') || states[name]?.includes('confirming'), `${name} showed progress: ${states[name]}`)
    }
    await waitFor(async () => (await quotaUsed()) === pdf.length + docx.length, 'quota bar shows both files')
    console.log(`      bytes PUT to: ${[...putOrigins].join(', ')}`)
    assert(putOrigins.size === 1 && putOrigins.has(STORAGE_ORIGIN), `uploads went to ${STORAGE_ORIGIN}`)
    await page.waitForSelector(`[data-doc="${pdfName}"]`)
    await page.waitForSelector(`[data-doc="${docxName}"]`)
    await shot('05-uploaded')
  })

  await step('dropping a file anywhere on the page uploads it', async () => {
    const name = `dropped-${id}.md`
    await page.evaluate((n) => {
      const dt = new DataTransfer()
      dt.items.add(new File(['# Shopping list\n\n- apples\n- pears\n'], n, { type: 'text/markdown' }))
      window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }))
      window.__dropData = dt
    }, name)
    await page.waitForSelector('[data-testid=drop-overlay]')
    await shot('05a-drop-overlay')
    await page.evaluate(() => window.dispatchEvent(new DragEvent('drop', { dataTransfer: window.__dropData, bubbles: true, cancelable: true })))
    await page.waitForSelector(`[data-upload="${name}"][data-state=done]`)
    assert(!(await page.$('[data-testid=drop-overlay]')), 'overlay gone after the drop')
    await page.waitForSelector(`[data-doc="${name}"]`)
    await page.click(`button[aria-label="Delete ${name}"]`)
    await page.click('dialog [data-testid=confirm]')
    await waitFor(async () => !(await page.$(`[data-doc="${name}"]`)), 'the dropped file deleted')
    await waitFor(async () => (await quotaUsed()) === pdf.length + docx.length, 'quota back to the two files')
  })

  await step(
    'both documents get classified (or unclassified) on their own',
    async () => {
      await waitFor(
        () =>
          page.evaluate(
            (names) =>
              names.every((n) => ['classified', 'unclassified'].includes(document.querySelector(`[data-doc="${n}"]`)?.getAttribute('data-status') ?? '')),
            [pdfName, docxName],
          ),
        'status classified/unclassified',
        PROCESS_TIMEOUT,
      )
      await shot('06-classified')
    },
    { pending: 'pipeline' },
  )

  await step(
    'search finds the text inside the PDF',
    async () => {
      await page.fill('[data-testid=search]', MARKER)
      await page.press('[data-testid=search]', 'Enter')
      await page.waitForURL(new RegExp(`q=${MARKER}`))
      await waitFor(
        () =>
          page.evaluate(
            ([p, d]) => !!document.querySelector(`[data-doc="${p}"]`) && !document.querySelector(`[data-doc="${d}"]`),
            [pdfName, docxName],
          ),
        'only the PDF in the results',
      )
      await waitFor(() => page.$(`[data-doc="${pdfName}"] [data-testid=snippet] mark`), 'a highlighted snippet')
      await shot('07-search')
    },
    { pending: 'search' },
  )

  await step('document detail and download returns the same bytes', async () => {
    await page.goto(`${BASE}/`)
    await page.click(`[data-doc="${pdfName}"] a`)
    await page.waitForSelector('[data-testid=doc-title]')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download]')])
    const path = await download.path()
    const got = readFileSync(path)
    const sha = (b) => createHash('sha256').update(b).digest('hex')
    assert(sha(got) === sha(pdf), `downloaded ${got.length} B, sha ${sha(got)} != uploaded ${pdf.length} B`)
    await page.waitForTimeout(300)
    await shot('08-detail')
  })

  await step('a page of 20 documents renders within 200 ms of its data', async () => {
    // 18 more small documents through the API (a separate body-mode session), so the
    // first page holds 20 rows.
    const api = async (method, path, token, body) => {
      const res = await fetch(`${BASE}${path}`, {
        method,
        headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
      return res.status === 204 ? null : res.json()
    }
    const { access_token: token } = await api('POST', '/api/auth/login', null, { login: user.handle, password: user.password })
    const extra = []
    for (let i = 0; i < 18; i++) {
      const bytes = Buffer.from(`Note ${i} for ${id}: groceries, milk, bread, and a reminder to call the bank.\n`)
      const slot = await api('POST', '/api/documents/upload-url', token, { filename: `note-${i}.txt`, content_type: 'text/plain', size_bytes: bytes.length })
      const put = await fetch(slot.upload_url, { method: 'PUT', headers: slot.headers, body: bytes })
      assert(put.ok, `PUT ${put.status}`)
      await api('POST', `/api/documents/${slot.document_id}/confirm`, token)
      extra.push(slot.document_id)
    }
    await page.goto(`${BASE}/`)
    await waitFor(() => page.evaluate(() => document.querySelectorAll('[data-doc]').length === 20), '20 rows')
    const ms = await waitFor(
      () => page.evaluate(() => performance.getEntriesByName('documents:render').map((e) => e.duration)[0]),
      'the render measure',
    )
    console.log(`      first render of 20 rows: ${ms.toFixed(1)} ms after the data arrived`)
    assert(ms < 200, `rendered in ${ms} ms`)
    await shot('09a-twenty-documents')
    for (const doc of extra) await api('DELETE', `/api/documents/${doc}`, token)
    await api('POST', '/api/auth/logout', token)
  })

  await step('phone width and dark mode render', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(`${BASE}/`)
    await page.waitForSelector(`[data-doc="${pdfName}"]`)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert(overflow <= 1, `no horizontal scrolling at phone width (overflow ${overflow}px)`)
    await shot('09-phone-dark')
    // Closed, the drawer is out of the Tab order (it comes just before the menu button
    // in the document, so Shift+Tab would land in it).
    for (const key of ['Shift+Tab', 'Tab']) {
      await page.focus('button[aria-label="Open menu"]')
      for (let i = 0; i < 4; i++) {
        await page.keyboard.press(key)
        const inDrawer = await page.evaluate(() => !!document.activeElement?.closest('aside'))
        assert(!inDrawer, `${key} ${i + 1} reached the closed drawer`)
      }
    }
    await page.click('button[aria-label="Open menu"]')
    await page.waitForTimeout(300)
    await shot('10-phone-menu')
    // Open, Tab and Shift+Tab cycle inside it.
    const focusable = await page.evaluate(() => document.querySelectorAll('aside a, aside button').length)
    for (let i = 0; i < focusable + 3; i++) {
      await page.keyboard.press(i % 4 === 3 ? 'Shift+Tab' : 'Tab')
      const where = await page.evaluate(() => (document.activeElement?.closest('aside') ? 'drawer' : document.activeElement?.outerHTML.slice(0, 80)))
      assert(where === 'drawer', `Tab ${i + 1} left the open drawer for ${where}`)
    }
    await page.keyboard.press('Escape')
    const back = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))
    assert(back === 'Open menu', `focus returns to the menu button after Esc, not ${back}`)
    await page.setViewportSize({ width: 1280, height: 860 })
    await page.emulateMedia({ colorScheme: 'light' })
  })

  await step('delete both documents; the quota bar returns to zero', async () => {
    await page.goto(`${BASE}/`)
    // From the detail page…
    await page.click(`[data-doc="${pdfName}"] a`)
    await page.click('[data-testid=delete]')
    await page.waitForSelector('dialog[open]')
    await shot('11-delete-confirm')
    await page.click('dialog [data-testid=confirm]')
    await page.waitForURL(`${BASE}/`)
    // …and from the list, with Esc closing the first attempt.
    await page.click(`button[aria-label="Delete ${docxName}"]`)
    await page.waitForSelector('dialog[open]')
    await page.keyboard.press('Escape')
    await waitFor(async () => !(await page.$('dialog[open]')), 'Esc closes the dialog')
    await page.click(`button[aria-label="Delete ${docxName}"]`)
    await page.click('dialog [data-testid=confirm]')
    await page.waitForSelector('[data-testid=empty]')
    await waitFor(async () => (await quotaUsed()) === 0, 'quota back to 0')
  })

  let secret = ''
  let enabledStep = 0
  await step('enable two-factor authentication', async () => {
    await page.goto(`${BASE}/settings`)
    await page.click('[data-testid=totp-start]')
    secret = await page.getAttribute('[data-testid=totp-secret]', 'data-secret')
    assert(secret, 'secret shown')
    await shot('12-totp-setup')
    enabledStep = Math.floor(Date.now() / 30_000)
    await page.fill('#totp-code', totp(secret, enabledStep))
    await page.click('text=Turn on')
    await page.waitForSelector('[data-testid=backup-codes]')
    const codes = await page.$$eval('[data-testid=backup-codes] li', (els) => els.length)
    assert(codes === 10, `10 backup codes shown (got ${codes})`)
    assert((await page.textContent('[data-testid=totp-state]'))?.trim() === 'On', '2FA shows On')
    await shot('13-backup-codes')
  })

  await step('sign in again with a TOTP code', async () => {
    await signOut()
    await signIn(user.handle, user.password)
    await page.waitForSelector('#code')
    await shot('14-totp-prompt')
    // A code is accepted once per 30-second step: wait for a fresh one.
    while (Math.floor(Date.now() / 30_000) <= enabledStep) await page.waitForTimeout(500)
    await page.fill('#code', totp(secret))
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=empty]')
  })

  const newbie = { handle: `new-${id}`, email: `new-${id}@example.com`, temp: `temp-${randomBytes(5).toString('hex')}`, final: `final-${randomBytes(6).toString('hex')}` }
  await step('admin creates a user who must change the password', async () => {
    assert(ADMIN_LOGIN && ADMIN_PASSWORD, 'ADMIN_LOGIN and ADMIN_PASSWORD are set')
    await signOut()
    await signIn(ADMIN_LOGIN, ADMIN_PASSWORD)
    await page.waitForSelector('[data-testid=users]')
    await page.waitForSelector(`[data-user="${user.handle}"]`)
    await shot('15-admin-users')
    await page.click('[data-testid=create-user]')
    await page.fill('#nu-handle', newbie.handle)
    await page.fill('#nu-email', newbie.email)
    await page.fill('#nu-password', newbie.temp)
    await page.fill('#nu-quota', '50 MB')
    await page.click('dialog button[type=submit]')
    await page.waitForSelector(`[data-user="${newbie.handle}"] >> text=must change password`)
    await page.click('text=Audit log')
    await page.waitForSelector('table >> text=admin user created')
    await shot('16-admin-audit')
    // Admins have no document screens.
    await page.goto(`${BASE}/`)
    await page.waitForURL(/\/admin/)
  })

  await step('the new user changes the password at first sign-in', async () => {
    await signOut()
    await signIn(newbie.handle, newbie.temp)
    await page.waitForURL(/\/change-password/)
    await shot('17-forced-password-change')
    await page.fill('#pw-current', newbie.temp)
    await page.fill('#pw-new', newbie.final)
    await page.fill('#pw-repeat', newbie.final)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=empty]')
    await signOut()
    await signIn(newbie.handle, newbie.final)
    await page.waitForSelector('[data-testid=empty]')
    await waitFor(async () => /of 50 MB/.test((await page.textContent('[data-testid=quota-text]')) ?? ''), 'the admin-set 50 MB limit in the quota bar')
  })

  await step('no CSP violations or script errors in the browser', async () => {
    const bad = browserErrors.filter((t) => /Content.Security.Policy|Refused to|Uncaught|TypeError|ReferenceError/i.test(t))
    assert(bad.length === 0, bad.join('\n'))
  })
} finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
}

console.log(`\nscreenshots: ${SHOTS}`)
if (results.pending) console.log(`pending (server features not landed): ${results.pending}`)
if (problems.length) console.log(`failed: ${problems.join('; ')}`)
console.log(`${results.passed} passed, ${results.failed} failed`)
process.exit(results.failed ? 1 : 0)
