// Plain words for what the API reports in codes: who filed a document under a topic
// and how sure the classifier was, a document's status, the end of a batch of uploads.
import type { components } from '@/api/schema'
import type { DocumentStatus } from '@/api/types'

/** Who filed a document under a topic (`ai`: the classifier, `user`: by hand). */
export type TopicSource = components['schemas']['TopicSource']

/**
 * What a topic chip says about how the topic came to be there: "78 % sure · automatic"
 * for the classifier (just "automatic" without a confidence), "chosen by you" for the
 * owner's own choice ("chosen by hand" when someone else looks at a shared document).
 */
export function topicSourceLabel(source: TopicSource | null | undefined, confidence?: number | null, byYou = true): string | null {
  if (source === 'ai') {
    if (confidence == null || !Number.isFinite(confidence)) return 'automatic'
    const pct = Math.round(Math.min(1, Math.max(0, confidence)) * 100)
    return `${pct} % sure · automatic`
  }
  if (source === 'user') return byYou ? 'chosen by you' : 'chosen by hand'
  return null
}

/** A suggested topic's chip: "34 % sure · suggested" (just "suggested" without a
 * confidence). */
export function suggestionLabel(confidence?: number | null): string {
  if (confidence == null || !Number.isFinite(confidence)) return 'suggested'
  const pct = Math.round(Math.min(1, Math.max(0, confidence)) * 100)
  return `${pct} % sure · suggested`
}

/** One word behind a topic, as the API reports it. */
export interface WeighedWord {
  term: string
  weight: number
}

/** The words behind a topic in plain words, heaviest first and each once: "invoice,
 * amount and payment" (at most `max`; empty when there are none). */
export function evidenceWords(evidence: readonly WeighedWord[] | null | undefined, max = 5): string {
  const seen = new Set<string>()
  const words = [...(evidence ?? [])]
    .filter((e) => e && typeof e.term === 'string' && e.term.trim() !== '')
    .sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))
    .map((e) => e.term.trim())
    .filter((t) => (seen.has(t) ? false : (seen.add(t), true)))
    .slice(0, Math.max(0, max))
  if (words.length <= 1) return words.join('')
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`
}

/** What the "Why?" of an automatic topic says: "Words that weighed most: tax, refund and
 * income." (or that none were recorded, e.g. for an AI model, which gives no words). */
export function whyTopic(evidence: readonly WeighedWord[] | null | undefined): string {
  const words = evidenceWords(evidence)
  return words ? `Words that weighed most: ${words}.` : 'The classifier gave no words for this topic.'
}

/** The owner's answer about one topic of a document. */
export type TopicAnswer = 'accept' | 'reject'

/** What the page says once an answer is saved. */
export function topicAnswerMessage(answer: TopicAnswer, name: string): string {
  return answer === 'accept'
    ? `Filed under ${name}. New documents like it will be too.`
    : `${name} taken off. It will not come back for this document.`
}

/** Where a document's own date came from (`content`, `filename`, `user`). */
export type DocumentDateSource = components['schemas']['DocumentDateSource']

/** How the document page and list say where a document's date came from: "from the
 * text", "from the file name", "set by you" ("set by hand" on a shared document). */
export function dateSourceLabel(source: DocumentDateSource | null | undefined, byYou = true): string | null {
  switch (source) {
    case 'content':
      return 'from the text'
    case 'filename':
      return 'from the file name'
    case 'user':
      return byYou ? 'set by you' : 'set by hand'
    default:
      return null
  }
}

/** Who sorted a document, by `classified_by.provider`: the details (model, prompt
 * version) stay behind a disclosure. */
export function classifierName(provider: string): string {
  switch (provider) {
    case 'builtin':
      return 'the built-in offline classifier'
    case 'ollama':
      return 'your Ollama server'
    case 'openai':
      return 'OpenAI'
    case 'anthropic':
      return 'Anthropic'
    default:
      return provider
  }
}

/** The one name of each document status in the UI. `unclassified` is "No topic" everywhere
 * (the badge, the filter): the API value stays `unclassified`. */
export const STATUS_LABELS: Record<DocumentStatus, string> = {
  pending: 'Uploading',
  queued: 'Queued',
  processing: 'Processing',
  classified: 'Classified',
  unclassified: 'No topic',
  failed: 'Failed',
}

/** The label of a status (an unknown value shows as itself). */
export function statusLabel(status: string): string {
  return (STATUS_LABELS as Record<string, string>)[status] ?? status
}

/** How a batch of uploads ended, once every file is uploaded and processed. */
export interface BatchOutcome {
  /** Documents processed (with or without a topic). */
  processed: number
  /** Files whose upload or processing failed. */
  failed: number
}

/** "12 documents processed · 1 failed" (no "· 0 failed"; "2 documents failed" when
 * none got through). */
export function batchSummary({ processed, failed }: BatchOutcome): string {
  const docs = (n: number) => `${n} document${n === 1 ? '' : 's'}`
  if (processed === 0) return `${docs(failed)} failed`
  return failed ? `${docs(processed)} processed · ${failed} failed` : `${docs(processed)} processed`
}

/** What a re-file run has to say for itself (`GET /api/topics/refile`). */
export interface RefileOutcome {
  state: 'running' | 'done' | 'failed' | 'cancelled'
  total: number
  done: number
  changed: number
  error?: string | null
}

/** "312 documents re-filed, 40 changed" once done; "Stopped after 120 of 312 documents,
 * 12 changed" when cancelled; the reason when it failed; "120 of 312 documents" while
 * running. */
export function refileSummary({ state, total, done, changed, error }: RefileOutcome): string {
  const docs = (n: number) => `${n} document${n === 1 ? '' : 's'}`
  switch (state) {
    case 'done':
      return done === 0 ? 'No documents to re-file' : `${docs(done)} re-filed, ${changed} changed`
    case 'cancelled':
      return `Stopped after ${done} of ${docs(total)}, ${changed} changed`
    case 'failed':
      return `Re-filing stopped: ${error || 'an error occurred'} (${done} of ${docs(total)} done, ${changed} changed)`
    default:
      return `${done} of ${docs(Math.max(total, done))}`
  }
}
