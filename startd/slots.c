/* slots.c — slot ads and applying policy steps to slots; see slots.h.
 * The transition rules themselves are in policy.c. */
#include "slots.h"

KiteSlot *kite_slot_new(guint id, const char *machine_name, gint64 now)
{
	KiteSlot *slot = g_new0(KiteSlot, 1);
	slot->id = id;
	slot->name = g_strdup_printf("slot%u@%s", id, machine_name);
	slot->state = KITE_SLOT_OWNER;
	slot->activity = KITE_SLOT_IDLE;
	slot->entered_state = slot->entered_activity = now;
	slot->cpu_busy_since = -1;
	return slot;
}

void kite_slot_free(KiteSlot *slot)
{
	if (!slot)
		return;
	g_free(slot->name);
	kite_ad_free(slot->ad);
	g_free(slot);
}

static void copy_attrs(KiteAd *to, const KiteAd *from)
{
	for (guint i = 0; i < kite_ad_size(from); i++)
		kite_ad_set(to, kite_ad_name_at(from, i), kite_ad_expr_at(from, i));
}

static void build_ad(KiteSlot *slot, const KiteSlotContext *ctx, gint64 now)
{
	KiteAd *ad = kite_ad_new();
	guint n = MAX(ctx->n_slots, 1);
	kite_ad_set_string(ad, "Name", slot->name);
	kite_ad_set_int(ad, "SlotID", slot->id);
	kite_ad_set_string(ad, "State", kite_slot_state_name(slot->state));
	kite_ad_set_string(ad, "Activity", kite_slot_activity_name(slot->activity));
	copy_attrs(ad, ctx->machine);

	/* Static slots share the machine evenly (at least 1 CPU each). */
	gint64 v;
	if (kite_ad_get_int(ctx->machine, "TotalCpus", &v))
		kite_ad_set_int(ad, "Cpus", MAX(v / n, 1));
	if (kite_ad_get_int(ctx->machine, "TotalMemory", &v))
		kite_ad_set_int(ad, "Memory", v / n);
	kite_ad_set_int(ad, "TotalSlots", n);
	kite_ad_set_int(ad, "Disk", ctx->disk_kib / n);
	kite_ad_set_int(ad, "TotalDisk", ctx->disk_kib);

	const KiteActivitySample *s = ctx->sample;
	kite_ad_set_int(ad, "KeyboardIdle", s->keyboard_idle);
	if (s->console_idle >= 0)
		kite_ad_set_int(ad, "ConsoleIdle", s->console_idle);
	if (s->have_load) {
		kite_ad_set_real(ad, "LoadAvg", s->load_avg);
		kite_ad_set_real(ad, "TotalLoadAvg", s->load_avg);
		kite_ad_set_real(ad, "NonJobLoadAvg", s->nonjob_load_avg);
		kite_ad_set_real(ad, "JobLoadAvg", s->load_avg - s->nonjob_load_avg);
	}
	kite_ad_set_int(ad, "EnteredCurrentState", slot->entered_state);
	kite_ad_set_int(ad, "EnteredCurrentActivity", slot->entered_activity);
	kite_ad_set_int(ad, "StateTimer", now - slot->entered_state);
	kite_ad_set_int(ad, "ActivityTimer", now - slot->entered_activity);
	kite_ad_set_int(ad, "MyCurrentTime", now);
	kite_ad_set_int(ad, "DaemonStartTime", ctx->daemon_start);
	kite_ad_set_int(ad, "ClassAdLifetime", ctx->lifetime);
	kite_policy_publish(ctx->policy, ad);

	/* CpuBusyTime: how long CPUBusy has been true. */
	gboolean busy = FALSE;
	if (kite_ad_get_bool(ad, "CPUBusy", &busy) && busy) {
		if (slot->cpu_busy_since < 0)
			slot->cpu_busy_since = now;
	} else {
		slot->cpu_busy_since = -1;
	}
	kite_ad_set_int(ad, "CpuBusyTime", slot->cpu_busy_since < 0 ? 0 : now - slot->cpu_busy_since);

	kite_ad_free(slot->ad);
	slot->ad = ad;
}

gboolean kite_slot_update(KiteSlot *slot, const KiteSlotContext *ctx, const KitePolicyInput *events,
			  gint64 now)
{
	KitePolicyInput in = {0};
	if (events)
		in = *events;
	gboolean changed = FALSE;
	build_ad(slot, ctx, now);
	/* A handful of steps settles any chain (Preempting → Owner →
	 * Unclaimed); more would be a loop in the rules. */
	for (int step = 0; step < 5; step++) {
		kite_policy_eval(ctx->policy, slot->ad, NULL, &in);
		KitePolicyStep next;
		if (!kite_policy_next(slot->state, slot->activity, &in, &next))
			break;
		g_message("%s: %s/%s -> %s/%s: %s", slot->name, kite_slot_state_name(slot->state),
			  kite_slot_activity_name(slot->activity), kite_slot_state_name(next.state),
			  kite_slot_activity_name(next.activity), next.reason);
		if (next.state != slot->state)
			slot->entered_state = now;
		slot->entered_activity = now;
		slot->state = next.state;
		slot->activity = next.activity;
		changed = TRUE;
		/* Events happen once; whether a job runs is a fact that stays. */
		gboolean running = in.job_running;
		in = (KitePolicyInput){.job_running = running};
		build_ad(slot, ctx, now);
	}
	return changed;
}
