// Prints the raw and gzip size of every built JS/CSS file and checks the entry budget
// (the JavaScript loaded by index.html must stay within 250 KiB gzip) and that pdf.js
// (about 130 KiB gzip, loaded with the first PDF shown) is not part of it.
import { readFileSync, readdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BUDGET = 250 * 1024
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'static')
const index = readFileSync(join(dir, 'index.html'), 'utf8')
const entry = new Set([...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]))
const kib = (n) => (n / 1024).toFixed(1).padStart(7) + ' KiB'
let entryGzip = 0
const rows = []
// A string only pdf.js's own code contains.
const PDFJS_MARK = 'No "GlobalWorkerOptions.workerSrc" specified.'
let pdfjsChunk = null
const eager = []
for (const f of readdirSync(join(dir, 'assets')).sort()) {
  if (!/\.(js|css)$/.test(f)) continue
  const buf = readFileSync(join(dir, 'assets', f))
  const gz = gzipSync(buf, { level: 9 }).length
  const isEntry = entry.has(`assets/${f}`)
  if (isEntry) entryGzip += gz
  if (f.endsWith('.js') && buf.includes(PDFJS_MARK)) {
    pdfjsChunk = f
    if (isEntry) eager.push(f)
  }
  rows.push(`${isEntry ? '*' : ' '} ${f.padEnd(44)} ${kib(buf.length)}  gzip ${kib(gz)}`)
}
console.log(rows.join('\n'))
console.log(`entry JS (marked *): ${kib(entryGzip).trim()} gzip; budget ${BUDGET / 1024} KiB`)
if (entryGzip > BUDGET) {
  console.error('entry bundle over budget')
  process.exit(1)
}
if (!pdfjsChunk || eager.length) {
  console.error(pdfjsChunk ? `pdf.js is in the entry bundle (${eager.join(', ')}): import it lazily` : 'no pdf.js chunk found in the build')
  process.exit(1)
}
console.log(`pdf.js loads lazily (${pdfjsChunk})`)
