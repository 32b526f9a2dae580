// Every service of the Ochre contract, by the name the client exposes it under.

import { ApiKeyService } from "./gen/ochre/v1/api_keys_pb.js";
import { AuditService } from "./gen/ochre/v1/audit_pb.js";
import { BudgetService } from "./gen/ochre/v1/budgets_pb.js";
import { ConversationService } from "./gen/ochre/v1/conversations_pb.js";
import { CustomerService } from "./gen/ochre/v1/customers_pb.js";
import { ExportService } from "./gen/ochre/v1/exports_pb.js";
import { GuardService } from "./gen/ochre/v1/guard_pb.js";
import { AuthService } from "./gen/ochre/v1/identity_pb.js";
import { IntegrationService } from "./gen/ochre/v1/integrations_pb.js";
import { MemberService } from "./gen/ochre/v1/members_pb.js";
import { OrgService } from "./gen/ochre/v1/orgs_pb.js";
import { SurveyService } from "./gen/ochre/v1/surveys_pb.js";
import { SystemService } from "./gen/ochre/v1/system_pb.js";
import { WebhookService } from "./gen/ochre/v1/webhooks_pb.js";

/** The services, keyed by their name on an OchreClient. */
export const SERVICES = {
  apiKeys: ApiKeyService,
  audit: AuditService,
  auth: AuthService,
  budgets: BudgetService,
  conversations: ConversationService,
  customers: CustomerService,
  exports: ExportService,
  guard: GuardService,
  integrations: IntegrationService,
  members: MemberService,
  orgs: OrgService,
  surveys: SurveyService,
  system: SystemService,
  webhooks: WebhookService,
} as const;

export {
  ApiKeyService,
  AuditService,
  AuthService,
  BudgetService,
  ConversationService,
  CustomerService,
  ExportService,
  GuardService,
  IntegrationService,
  MemberService,
  OrgService,
  SurveyService,
  SystemService,
  WebhookService,
};
