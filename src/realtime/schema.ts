// The Subscription type: a tenant's product and category changes, and the user's own
// membership changes. Each event names only what changed (subscriber.ts); the row is
// read again through RLS as the subscriber, with the connection's pgSettings, in the
// transaction that renders the event, so a subscriber never receives what its policies
// hide: a row it may not (or no longer) read comes as null, a deleted row as its id.
import {
  access,
  context,
  inhibitOnNull,
  listen,
  nodeIdFromNode,
  object,
  type GrafastSubscriber,
  type Step,
} from 'grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { ChangeEvent, Topic } from './subscriber.ts';

export const RealtimeSchemaPlugin = extendSchema((build) => {
  const { products, categories, memberships } = build.input.pgRegistry.pgResources;
  if (!products || !categories || !memberships)
    throw new Error('RealtimeSchemaPlugin: products, categories and memberships must be exposed');
  const nodeId = (typeName: string, $spec: Step) => {
    const handler = build.getNodeIdHandler?.(typeName);
    if (!handler) throw new Error(`RealtimeSchemaPlugin: ${typeName} has no node id`);
    return nodeIdFromNode(handler, $spec);
  };
  const subscribeTo = (topic: Topic) => ({
    subscribePlan() {
      // Over HTTP there is no subscriber: grafast answers "Subscription not supported".
      return listen(context().get('realtime') as Step<GrafastSubscriber | null>, topic);
    },
    plan($event: Step<ChangeEvent>) {
      return $event;
    },
  });
  // SUBSCRIBED names no row: its id and row are null, and no query runs for it.
  const keyOf = ($event: Step<ChangeEvent>) => ({
    tenant_id: access($event, 'tenantId'),
    id: inhibitOnNull(access($event, 'id')),
  });
  const membershipKeyOf = ($event: Step<ChangeEvent>) => ({
    tenant_id: inhibitOnNull(access($event, 'tenantId')),
    user_id: access($event, 'userId'),
  });

  return {
    typeDefs: gql`
      """
      What happened: \`SUBSCRIBED\` comes first, once the server listens (refetch then, and
      no later change is missed); then one event per change.
      """
      enum RealtimeEvent {
        "The subscription is live: every change committed from now on is delivered."
        SUBSCRIBED
        "The row was created."
        CREATED
        "The row was changed."
        UPDATED
        "The row was deleted: only its id comes."
        DELETED
      }

      "A change to one of the tenant's products."
      type ProductChange {
        event: RealtimeEvent!
        "The product's id; null for \`SUBSCRIBED\`."
        productId: ID
        "The product as you may read it now; null when it was deleted (or is no longer visible to you)."
        product: Product
      }

      "A change to one of the tenant's categories."
      type CategoryChange {
        event: RealtimeEvent!
        "The category's id; null for \`SUBSCRIBED\`."
        categoryId: ID
        "The category as you may read it now; null when it was deleted (or is no longer visible to you)."
        category: Category
      }

      "A change to one of your own memberships, in any tenant."
      type MembershipChange {
        event: RealtimeEvent!
        "The membership's id; null for \`SUBSCRIBED\`."
        membershipId: ID
        "The membership as you may read it now; null when it was deleted."
        membership: Membership
      }

      extend type Subscription {
        """
        Products of the tenant you act in (your token's tenant, or X-Tenant in connectionParams)
        created, updated or deleted by anyone. Ends with \`MEMBERSHIP_ENDED\` when you leave the tenant.
        """
        productChanged: ProductChange!
        "Categories of the tenant you act in, as \`productChanged\`."
        categoryChanged: CategoryChange!
        "Your own memberships: joining, a changed role, leaving or being removed, in any tenant."
        myMembershipChanged: MembershipChange!
      }
    `,
    objects: {
      Subscription: {
        plans: {
          productChanged: subscribeTo('products'),
          categoryChanged: subscribeTo('categories'),
          myMembershipChanged: subscribeTo('memberships'),
        },
      },
      ProductChange: {
        plans: {
          event: ($event: Step<ChangeEvent>) => access($event, 'event'),
          productId: ($event: Step<ChangeEvent>) => nodeId('Product', object(keyOf($event))),
          product: ($event: Step<ChangeEvent>) => products.get(keyOf($event)),
        },
      },
      CategoryChange: {
        plans: {
          event: ($event: Step<ChangeEvent>) => access($event, 'event'),
          categoryId: ($event: Step<ChangeEvent>) => nodeId('Category', object(keyOf($event))),
          category: ($event: Step<ChangeEvent>) => categories.get(keyOf($event)),
        },
      },
      MembershipChange: {
        plans: {
          event: ($event: Step<ChangeEvent>) => access($event, 'event'),
          membershipId: ($event: Step<ChangeEvent>) => nodeId('Membership', object(membershipKeyOf($event))),
          membership: ($event: Step<ChangeEvent>) => memberships.get(membershipKeyOf($event)),
        },
      },
    },
  };
});
