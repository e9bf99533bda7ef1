// pdf.js, loaded on first use: the library and its worker are separate chunks, so the
// entry bundle never carries them (scripts/sizes.mjs checks the entry budget).
//
// Under the server's CSP (`script-src 'self'`, no 'wasm-unsafe-eval', no eval) pdf.js
// runs with WebAssembly off: JBIG2 and JPEG 2000 images (common in scanned PDFs) decode
// with the JavaScript fallbacks that the build copies to /pdfjs/ (vite.config.ts).
import type { PDFDocumentLoadingTask } from 'pdfjs-dist'
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?worker&url'

type PdfJs = typeof import('pdfjs-dist')

let loading: Promise<PdfJs> | null = null

/** The pdf.js module, imported once and configured with its worker. */
export function loadPdfjs(): Promise<PdfJs> {
  loading ??= import('pdfjs-dist')
    .then((pdfjs) => {
      pdfjs.GlobalWorkerOptions.workerSrc = workerUrl
      return pdfjs
    })
    .catch((e) => {
      loading = null
      throw e
    })
  return loading
}

/** Where the build puts pdf.js's image decoders (JavaScript, no WebAssembly). */
export const PDFJS_DECODERS = '/pdfjs/'

/** Opens a PDF from a (signed, short-lived) URL: one plain GET, no range requests that
 * could outlive the URL or need CORS headers the storage may not expose. */
export async function openPdf(url: string): Promise<PDFDocumentLoadingTask> {
  const pdfjs = await loadPdfjs()
  return pdfjs.getDocument({
    url,
    disableRange: true,
    disableAutoFetch: true,
    useWasm: false,
    wasmUrl: PDFJS_DECODERS,
    enableXfa: false,
  })
}
