/** What the topic form edits (user and system topics alike). */
export interface TopicDraft {
  name: string
  color: string | null
  description: string | null
}
