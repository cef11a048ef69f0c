/*
 * test_metrics: counters from several threads add up exactly; labelled
 * counters keep their labels apart; unknown methods/routes fold into
 * "other"; the Prometheus text has the contract's names, one HELP/TYPE per
 * family, and a cumulative histogram.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/core/metrics.h"

#define THREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_sip_request("REGISTER", 200);
		metrics_gauge_add(METRICS_REGISTRATIONS, 1);
		metrics_register_latency_us((uint64_t)(i % 2000));
	}
	return NULL;
}

static void test_threads_add_up(void **state)
{
	pthread_t t[THREADS];
	char *text;
	size_t len;

	(void)state;
	metrics_reset();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(metrics_sip_requests_get("REGISTER", 200),
			 THREADS * PER_THREAD);
	assert_int_equal(metrics_gauge_get(METRICS_REGISTRATIONS),
			 THREADS * PER_THREAD);
	assert_int_equal(metrics_render(&text, &len), 0);
	assert_non_null(strstr(text, "dataline_register_duration_seconds_count 400000\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"+Inf\"} 400000\n"));
	free(text);
}

static void test_labels(void **state)
{
	(void)state;
	metrics_reset();
	metrics_sip_request("REGISTER", 401);
	metrics_sip_request("REGISTER", 401);
	metrics_sip_request("OPTIONS", 200);
	metrics_sip_request("FOO", 501);
	metrics_sip_request(NULL, 400);
	metrics_sip_request("REGISTER", 99);   /* not a status: ignored */
	metrics_sip_request("REGISTER", 700);
	assert_int_equal(metrics_sip_requests_get("REGISTER", 401), 2);
	assert_int_equal(metrics_sip_requests_get("REGISTER", 200), 0);
	assert_int_equal(metrics_sip_requests_get("OPTIONS", 200), 1);
	assert_int_equal(metrics_sip_requests_get("other", 501), 1);
	assert_int_equal(metrics_sip_requests_get("BAR", 400), 1); /* other */
	metrics_http_request("/v1/registrations", 202);
	metrics_http_request("/../../etc/passwd", 404);
	assert_int_equal(metrics_http_requests_get("/v1/registrations", 202), 1);
	assert_int_equal(metrics_http_requests_get("other", 404), 1);
	metrics_inc(METRICS_SMS_FAILURES);
	metrics_add(METRICS_SMS_FAILURES, 2);
	assert_int_equal(metrics_counter_get(METRICS_SMS_FAILURES), 3);
	metrics_gauge_set(METRICS_QUEUE_SMS, 7);
	metrics_gauge_add(METRICS_QUEUE_SMS, -2);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 5);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_render(void **state)
{
	char *text;
	size_t len;

	(void)state;
	metrics_reset();
	metrics_sip_request("REGISTER", 200);
	metrics_http_request("/v1/registrations", 202);
	metrics_code_verification(METRICS_VERIFY_INVALID_CODE);
	metrics_auth_failure(METRICS_AUTH_REPLAYED_NONCE);
	metrics_gauge_set(METRICS_REGISTRATIONS, 3);
	metrics_gauge_set(METRICS_QUEUE_SMS, 1);
	metrics_register_latency_us(50);     /* <= 0.0001 */
	metrics_register_latency_us(3000);   /* <= 0.005 */
	metrics_register_latency_us(5000000); /* +Inf only */
	assert_int_equal(metrics_render(&text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "dataline_sip_requests_total{method=\"REGISTER\",status=\"200\"} 1\n"));
	assert_non_null(strstr(text, "dataline_http_requests_total{route=\"/v1/registrations\",status=\"202\"} 1\n"));
	assert_non_null(strstr(text, "dataline_code_verifications_total{result=\"invalid_code\"} 1\n"));
	assert_non_null(strstr(text, "dataline_code_verifications_total{result=\"ok\"} 0\n"));
	assert_non_null(strstr(text, "dataline_sip_auth_failures_total{reason=\"replayed_nonce\"} 1\n"));
	assert_non_null(strstr(text, "dataline_sip_auth_failures_total{reason=\"bad_password\"} 0\n"));
	assert_non_null(strstr(text, "\ndataline_registrations 3\n"));
	assert_non_null(strstr(text, "\ndataline_accounts 0\n"));
	assert_non_null(strstr(text, "\ndataline_devices 0\n"));
	assert_non_null(strstr(text, "dataline_queue_depth{queue=\"sms\"} 1\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"0.005\"} 2\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"1\"} 2\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "dataline_register_duration_seconds_sum 5.003050\n"));
	/* one TYPE line per family, even where two label sets share a name */
	assert_int_equal(count(text, "# TYPE dataline_connections gauge\n"), 1);
	assert_int_equal(count(text, "dataline_connections{transport="), 2);
	assert_int_equal(count(text, "# TYPE dataline_sip_requests_total counter\n"), 1);
	/* zero SIP/HTTP samples are left out (bounded output) */
	assert_null(strstr(text, "status=\"404\""));
	assert_int_equal(text[len - 1], '\n');
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_add_up),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
