// Names for the API shapes. Everything comes from `schema.d.ts`, which is generated from
// the repository's openapi.json (`npm run gen:api`); never copy shapes by hand.
//
// `Upcoming*` lists fields announced for the API but not yet in openapi.json. They are
// optional so the UI works with and without them; drop each one here once
// `npm run gen:api` brings it in from the spec.
import type { components, paths } from './schema'

type S = components['schemas']

export type Paths = paths
export type ErrorBody = S['ErrorBody']
export type ErrorCode = S['ErrorCode']
export type QuotaDetail = S['QuotaDetail']
export type TokenResponse = S['TokenResponse']
export type LoginRequest = S['LoginRequest']
export type LoginResponse = S['LoginResponse']
export type AccessTokenResponse = S['AccessTokenResponse']
export type RegisterRequest = S['RegisterRequest']
export type ChangePasswordRequest = S['ChangePasswordRequest']
export type TotpSetupResponse = S['TotpSetupResponse']
export type BackupCodesResponse = S['BackupCodesResponse']
export type QuotaView = S['QuotaView']
export type AuthConfig = S['AuthConfig']
export type DocumentTypeView = S['DocumentTypeView']
export type AiProvider = S['AiProvider']
export type UploadUrlRequest = S['UploadUrlRequest']
export type UploadUrlResponse = S['UploadUrlResponse']
export type ConfirmResponse = S['ConfirmResponse']
export type DocumentStatus = S['DocumentStatus']
export type SortKey = S['SortKey']
export type SortOrder = S['SortOrder']
export type DownloadResponse = S['DownloadResponse']
export type FolderView = S['FolderView']
export type FolderList = S['FolderList']
export type CreateFolderRequest = S['CreateFolderRequest']
export type UpdateFolderRequest = S['UpdateFolderRequest']
export type TopicView = S['TopicView']
export type TopicList = S['TopicList']
export type CreateTopicRequest = S['CreateTopicRequest']
export type UpdateTopicRequest = S['UpdateTopicRequest']
export type ShareView = S['ShareView']
export type ShareList = S['ShareList']
export type AdminUserView = S['AdminUserView']
export type AdminUserPage = S['AdminUserPage']
export type CreateUserRequest = S['CreateUserRequest']
export type UpdateUserRequest = S['UpdateUserRequest']
export type AuditEntryView = S['AuditEntryView']
export type AuditPage = S['AuditPage']
export type AuditEvent = S['AuditEvent']
export type StatsView = S['StatsView']
export type SystemTopicView = S['SystemTopicView']
export type SystemTopicList = S['SystemTopicList']
export type Role = S['Role']
export type ViewKind = S['ViewKind']
export type DocumentProgress = S['DocumentProgress']
export type ViewResponse = S['ViewResponse']

/** A highlighted part of a search snippet. */
export interface SnippetSegment {
  text: string
  highlight: boolean
}

/** A topic on a document, with who assigned it. */
export interface DocumentTopic {
  id: string
  name: string
  color?: string | null
  source: 'ai' | 'user'
  confidence?: number | null
  /** The words that weighed most (automatic topics of the builtin classifier). */
  evidence?: EvidenceTerm[]
}
export type EvidenceTerm = S['EvidenceTerm']
export type SuggestedTopicView = S['SuggestedTopicView']

/** Announced additions to DocumentView (classification pipeline and search). */
export interface UpcomingDocumentFields {
  sha256?: string | null
  classified_by?: { provider: string; model?: string | null; prompt_version?: string | null } | null
  topics?: DocumentTopic[]
  snippet?: SnippetSegment[] | null
}


export type DocumentView = S['DocumentView'] & UpcomingDocumentFields
export type DocumentPage = Omit<S['DocumentPage'], 'items'> & { items: DocumentView[] }
export type SharedDocumentView = Omit<S['SharedDocumentView'], 'document'> & { document: DocumentView }
export type SharedDocumentPage = Omit<S['SharedDocumentPage'], 'items'> & { items: SharedDocumentView[] }
export type Suggestion = S['Suggestion']
export type SuggestionList = S['SuggestionList']
export type SimilarDocuments = Omit<S['SimilarDocuments'], 'items'> & { items: DocumentView[] }
export type UserView = S['UserView']
export type SearchLanguage = S['SearchLanguage']

export type UpdateMeRequest = S['UpdateMeRequest']
export type UpdateDocumentRequest = S['UpdateDocumentRequest']
export type DocumentText = S['DocumentText']
export type ClassifyResponse = S['ClassifyResponse']

/** The query of `GET /api/documents`, read off the contract. */
export type ListParams = NonNullable<paths['/api/documents']['get']['parameters']['query']>
// Saved views (issue 16).
export type SavedView = S['SavedView']
export type SavedViewList = S['SavedViewList']
export type CreateViewRequest = S['CreateViewRequest']
export type UpdateViewRequest = S['UpdateViewRequest']

// Connections (issue 15): personal API tokens, webhooks, the watched folder, e-mail intake.
// Request bodies without a schema name in the contract are read off their operation.
type JsonBody<P extends keyof paths, M extends 'post' | 'patch'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } }
}
  ? B
  : never
export type ApiScope = S['ApiScope']
export type ApiToken = S['ApiToken']
export type ApiTokenCreated = S['ApiTokenCreated']
export type ApiTokenList = S['ApiTokenList']
export type CreateApiTokenBody = JsonBody<'/api/auth/tokens', 'post'>
export type WebhookEvent = S['WebhookEvent']
export type SubscribableEvent = S['SubscribableEvent']
export type Webhook = S['Webhook']
export type WebhookCreated = S['WebhookCreated']
export type WebhookList = S['WebhookList']
export type WebhookDelivery = S['WebhookDelivery']
export type WebhookDeliveryList = S['WebhookDeliveryList']
export type CreateWebhookBody = JsonBody<'/api/webhooks', 'post'>
export type UpdateWebhookBody = JsonBody<'/api/webhooks/{id}', 'patch'>
export type IngestStatus = S['IngestStatus']
export type IngestItem = S['IngestItem']
export type MailAccount = S['MailAccount']
export type MailAccountInput = S['MailAccountInput']
export type MailAccountPatch = JsonBody<'/api/intake/mail/{id}', 'patch'>
export type MailAccountList = S['MailAccountList']
export type MailCheckResult = S['MailCheckResult']
export type MailItem = S['MailItem']
export type MailItemList = S['MailItemList']

// Account recovery and share notices (issue 16).
export type PasswordResetRequest = S['PasswordResetRequest']
export type PasswordResetConfirm = S['PasswordResetConfirm']
export type TemporaryPasswordView = S['TemporaryPasswordView']
export type NotificationView = S['NotificationView']
export type NotificationList = S['NotificationList']
export type MarkReadRequest = S['MarkReadRequest']
// Public links (issue 16).
export type CreateLinkRequest = S['CreateLinkRequest']
export type CreatedLink = S['CreatedLink']
export type LinkView = S['LinkView']
export type LinkList = S['LinkList']
export type PublicLinkInfo = S['PublicLinkInfo']
// Re-filing the whole vault (issue 18).
export type RefileRun = S['RefileRun']
export type RefileState = S['RefileState']
