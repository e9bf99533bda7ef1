// Words and small rules for the Connections settings (issue 15): API token scopes and
// expiry, webhook events, e-mail intake defaults. Values are the API's; labels are ours.
import type { ApiScope, ApiToken, MailAccountInput, MailCheckResult, SubscribableEvent } from '@/api/types'

export const SCOPES: readonly { value: ApiScope; label: string; hint: string }[] = [
  { value: 'documents:read', label: 'Read documents', hint: 'List, search, view and download.' },
  { value: 'documents:write', label: 'Change documents', hint: 'Upload, edit, move and delete.' },
  { value: 'topics:read', label: 'Read topics', hint: 'List topics.' },
  { value: 'topics:write', label: 'Change topics', hint: 'Create, rename and delete topics.' },
]

/** Expiry choices for a new token: days, or null for a token that never expires. */
export const EXPIRIES: readonly { days: number | null; label: string }[] = [
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '1 year' },
  { days: null, label: 'Never' },
]

/** Events a webhook can subscribe to (`webhook.test` is only ever sent by "Send test"). */
export const WEBHOOK_EVENTS: readonly { value: SubscribableEvent; label: string }[] = [
  { value: 'document.created', label: 'A document is uploaded' },
  { value: 'document.processed', label: 'A document is read and filed' },
  { value: 'document.failed', label: 'A document cannot be processed' },
  { value: 'document.deleted', label: 'A document is trashed or deleted' },
  { value: 'share.created', label: 'You share a document' },
]

/** Whether a token has expired at `now`. */
export function tokenExpired(t: Pick<ApiToken, 'expires_at'>, now = Date.now()): boolean {
  if (!t.expires_at) return false
  const at = Date.parse(t.expires_at)
  return !Number.isNaN(at) && at <= now
}

export type MailTls = MailAccountInput['tls']
export const TLS_MODES: readonly { value: MailTls; label: string; port: number }[] = [
  { value: 'tls', label: 'TLS (port 993)', port: 993 },
  { value: 'starttls', label: 'STARTTLS (port 143)', port: 143 },
  { value: 'none', label: 'None — unencrypted (port 143)', port: 143 },
]

/** The usual port for a TLS mode. */
export function defaultPort(tls: MailTls): number {
  return TLS_MODES.find((m) => m.value === tls)?.port ?? 993
}

/** "3 messages: 2 imported, 1 failed, 0 skipped" */
export function describeCheck(r: MailCheckResult): string {
  const n = r.messages
  return `${n} new message${n === 1 ? '' : 's'}: ${r.imported} imported, ${r.failed} failed, ${r.skipped} skipped`
}

/** Copies text to the clipboard; falls back to a selected text field where the async
 * clipboard is missing. Resolves whether it worked. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    // fall through to the old way
  }
  const ta = document.createElement('textarea')
  ta.value = text
  ta.setAttribute('readonly', '')
  ta.style.position = 'fixed'
  ta.style.opacity = '0'
  document.body.appendChild(ta)
  ta.select()
  let ok = false
  try {
    ok = document.execCommand('copy')
  } catch {
    ok = false
  }
  ta.remove()
  return ok
}
