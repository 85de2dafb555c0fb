/* test-ckpt-place: the agent's choice of a checkpoint server and the
 * nearness of slots to a job's checkpoint (schedd/ckpt-place.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schedd/ckpt-place.h"

static KiteAd *server(const char *name, const char *addr, gint64 free_mib, gint64 uploads, const char *site,
		      const char *subnet)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "MyType", "CkptServer");
	kite_ad_set_string(ad, "Name", name);
	kite_ad_set_string(ad, "CkptServerAddr", addr);
	kite_ad_set_int(ad, "FreeSpace", free_mib << 20);
	kite_ad_set_int(ad, "Uploads", uploads);
	kite_ad_set_int(ad, "Connections", 0);
	if (site)
		kite_ad_set_string(ad, "Site", site);
	if (subnet)
		kite_ad_set_string(ad, "Subnet", subnet);
	return ad;
}

static KiteAd *slot(const char *site, const char *subnet)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Name", "slot1@ws1");
	if (site)
		kite_ad_set_string(ad, "Site", site);
	if (subnet)
		kite_ad_set_string(ad, "Subnet", subnet);
	return ad;
}

static void test_choose(void **state)
{
	g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	g_ptr_array_add(servers, server("far", "10.0.9.1:9620", 10000, 0, "north", "10.0.9"));
	g_ptr_array_add(servers, server("site", "10.0.2.1:9620", 10000, 3, "south", "10.0.2"));
	g_ptr_array_add(servers, server("near-busy", "10.0.1.1:9620", 10000, 5, "south", "10.0.1"));
	g_ptr_array_add(servers, server("near", "10.0.1.2:9620", 10000, 1, "south", "10.0.1"));
	g_ptr_array_add(servers, server("near-full", "10.0.1.3:9620", 10, 0, "south", "10.0.1"));
	g_autoptr(KiteAd) ws = slot("south", "10.0.1");
	g_autofree char *why = NULL;
	const KiteAd *best = kite_ckpt_choose_server(servers, ws, 512ll << 20, &why);
	assert_non_null(best);
	g_autofree char *name = NULL;
	kite_ad_get_string(best, "Name", &name);
	assert_string_equal(name, "near"); /* same subnet, room, least busy */
	assert_string_equal(why, "near (10.0.1.2:9620): on the machine's subnet, 1 transfers, 10000 MiB free; 5 server(s) known");

	/* a machine of the south site on another subnet: the site's least busy */
	g_autoptr(KiteAd) other = slot("south", "10.0.7");
	g_clear_pointer(&why, g_free);
	best = kite_ckpt_choose_server(servers, other, 512ll << 20, &why);
	g_clear_pointer(&name, g_free);
	kite_ad_get_string(best, "Name", &name);
	assert_string_equal(name, "near"); /* 1 transfer beats site's 3 and near-busy's 5 */

	/* nobody has room */
	g_clear_pointer(&why, g_free);
	assert_null(kite_ckpt_choose_server(servers, ws, 1ll << 50, &why));
	assert_string_equal(why, "no checkpoint server has room for 1125899906842624 bytes (5 known, 5 full)");
}

static void test_proximity(void **state)
{
	g_autoptr(KiteAd) job = kite_ad_new();
	g_autoptr(KiteAd) same_subnet = slot("south", "10.0.1");
	g_autoptr(KiteAd) same_site = slot("south", "10.0.2");
	g_autoptr(KiteAd) elsewhere = slot("north", "10.0.9");
	/* a job without a checkpoint server: every slot is as near */
	assert_int_equal(kite_ckpt_proximity(job, same_subnet), 0);
	kite_ad_set_string(job, "CheckpointServerSite", "south");
	kite_ad_set_string(job, "CheckpointServerSubnet", "10.0.1");
	assert_int_equal(kite_ckpt_proximity(job, same_subnet), 2);
	assert_int_equal(kite_ckpt_proximity(job, same_site), 1);
	assert_int_equal(kite_ckpt_proximity(job, elsewhere), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_choose),
	    cmocka_unit_test(test_proximity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
