/*
 * mediacall: two media sessions (include/dataline/media.h) on one engine
 * call each other over loopback: A offers, B answers, A accepts, each
 * sends the same WAV to the other for the given time and writes what it
 * decoded; then the figures of both and the normalised cross-correlation
 * of what each received against what was sent (both at 8 kHz, the delay
 * that maximises it). For tests/integration/media_call.sh.
 *
 * usage: mediacall -i IN.wav -d DIR [-t SECONDS] [-c opus|pcmu|pcma]
 *                  [-s gcm|aescm|none] [-l LOSS_PERMILLE] [-j JITTER_MS]
 *                  [-p PORT] [-r RTCP_MS] [-w] [-a ADDR]
 *   -c  the codec B answers with (B leaves the others out of its choice)
 *   -s  the suite: A offers only that crypto line (none: RTP/AVP offered,
 *       allowed by B)
 *   -l  loss on both directions' RTP (per mille), -j jitter likewise
 *   -w  A's copy of B's key is corrupted: A must count auth failures and
 *       play nothing
 * mediacall -i SENT.wav -x GOT.wav: no call, only the comparison of a
 *   recording made elsewhere (a call between two daemons) with what was
 *   sent: "corr=.. seg=.. delay_ms=..", the delay searched within +-3 s
 *   (negative: the recording started after the sending).
 * Writes DIR/a_out.wav (what A heard) and DIR/b_out.wav; prints key=value
 * lines "A ...", "B ...", then "corr_ab=.. seg_ab=.. delay_ab_ms=..
 * corr_ba=.. seg_ba=.. delay_ba_ms=..": corr the whole signal at one
 * delay, seg the mean of 0.5 s windows each within 120 ms of it (the
 * jitter buffer may move the delay by a frame in a silence). Exit 0, or 1
 * on an API error (printed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataline/media.h"

static int die(const char *what, int err)
{
	fprintf(stderr, "mediacall: %s: %s\n", what, strerror(-err));
	return 1;
}

/* Removes every a=crypto line whose suite is not `keep`. */
static void keep_suite(char *sdp, const char *keep)
{
	char *p = sdp;

	while ((p = strstr(p, "a=crypto:"))) {
		char *eol = strstr(p, "\r\n");
		char *sp = strchr(p, ' ');

		if (!eol)
			return;
		if (sp && sp < eol && strncmp(sp + 1, keep, strlen(keep)) == 0 &&
		    sp[1 + strlen(keep)] == ' ') {
			p = eol + 2;
			continue;
		}
		memmove(p, eol + 2, strlen(eol + 2) + 1);
	}
}

/* Flips one character of the first inline key. */
static void corrupt_key(char *sdp)
{
	char *k = strstr(sdp, "inline:");

	if (k)
		k[12] = k[12] == 'A' ? 'B' : 'A';
}

static void print_stats(const char *who, struct media_session *s)
{
	struct media_stats st;

	media_stats(s, &st);
	printf("%s codec=%s suite=%s duration_ms=%llu sent=%llu recv=%llu "
	       "dropped_test=%llu auth_fail=%llu malformed=%llu rtcp_sent=%llu "
	       "rtcp_recv=%llu lost=%lld loss_pct=%.2f jitter_ms=%.2f "
	       "remote_loss_pct=%.2f remote_jitter_ms=%.2f rtt_ms=%.3f "
	       "jb_target_ms=%.1f jb_delay_ms=%.1f m2e_ms=%.2f played=%llu "
	       "fec=%llu plc=%llu late=%llu skipped=%llu r=%.1f mos=%.2f\n",
	       who, st.codec_name, media_suite_name(st.suite),
	       (unsigned long long)st.duration_ms, (unsigned long long)st.pkts_sent,
	       (unsigned long long)st.pkts_recv,
	       (unsigned long long)st.pkts_dropped_test,
	       (unsigned long long)st.auth_fail, (unsigned long long)st.malformed,
	       (unsigned long long)st.rtcp_sent, (unsigned long long)st.rtcp_recv,
	       (long long)st.lost, st.loss_pct, st.jitter_ms, st.remote_loss_pct,
	       st.remote_jitter_ms, st.rtt_ms, st.jb_target_ms, st.jb_delay_ms,
	       st.m2e_ms, (unsigned long long)st.frames_played,
	       (unsigned long long)st.frames_fec, (unsigned long long)st.frames_plc,
	       (unsigned long long)st.frames_late,
	       (unsigned long long)st.frames_skipped, st.r_factor, st.mos);
}

/* Correlation of `got` (a file) against the sent audio, at 8 kHz. */
static size_t max_lag = 8000;	/* samples at 8 kHz: 1 s */
static int xmode;		/* -x: a recording made elsewhere */
/* A window's own lag, within this of the global one (samples at 8 kHz:
 * 120 ms). The adaptive jitter buffer moves the delay in silences; on a
 * loaded machine (CI under ASan) it grew by 65 ms in one call, past the
 * 60 ms this was, and a PCMU call with every word intact scored 0.55. */
#define SLACK 960

static int compare(const struct media_pcm *sent8, const char *got_path,
		   double *corr, double *seg, double *delay_ms)
{
	struct media_pcm got = { 0 }, got8 = { 0 };
	size_t lag;
	int e = media_wav_read(got_path, &got);

	if (e)
		return e;
	e = media_pcm_resample(&got, 8000, &got8);
	media_pcm_free(&got);
	if (e)
		return e;
	e = media_xcorr(sent8, &got8, max_lag, corr, &lag);
	/* 0.5 s windows, each within 120 ms of the global delay */
	if (!e)
		e = media_xcorr_seg(sent8, &got8, lag, SLACK, 4000, seg);
	if (!e)
		*delay_ms = lag / 8.0;
	/* -x: the recording may also start after the sending did (a callee
	 * behind a NAT gets nothing until its first packet latches the relay
	 * to it): a negative delay, the start of what was sent missing */
	if (!e && xmode) {
		double c2 = 0, s2 = 0;
		size_t lag2;

		if (media_xcorr(&got8, sent8, max_lag, &c2, &lag2) == 0 && c2 > *corr &&
		    media_xcorr_seg(&got8, sent8, lag2, SLACK, 4000, &s2) == 0) {
			*corr = c2;
			*seg = s2;
			*delay_ms = -(double)lag2 / 8.0;
		}
	}
	media_pcm_free(&got8);
	return e;
}

int main(int argc, char **argv)
{
	const char *in = NULL, *dir = NULL, *xgot = NULL, *codec = "opus", *suite = "gcm",
		   *addr = "127.0.0.1";
	unsigned secs = 4, loss = 0, jitter = 0, port = 0, rtcp_ms = 1000;
	int wrong = 0, opt, e;
	char aout[512], bout[512], offer[4096], answer[4096];
	struct media_engine *eng;
	struct media_session *a, *b;
	struct media_config ca = { 0 }, cb;
	struct media_pcm sent = { 0 }, sent8 = { 0 };
	size_t n;
	double corr_ab = 0, corr_ba = 0, d_ab = 0, d_ba = 0, seg_ab = 0, seg_ba = 0;

	while ((opt = getopt(argc, argv, "i:d:t:c:s:l:j:p:r:wa:x:")) != -1) {
		switch (opt) {
		case 'i': in = optarg; break;
		case 'd': dir = optarg; break;
		case 't': secs = (unsigned)atoi(optarg); break;
		case 'c': codec = optarg; break;
		case 's': suite = optarg; break;
		case 'l': loss = (unsigned)atoi(optarg); break;
		case 'j': jitter = (unsigned)atoi(optarg); break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'r': rtcp_ms = (unsigned)atoi(optarg); break;
		case 'w': wrong = 1; break;
		case 'a': addr = optarg; break;
		case 'x': xgot = optarg; break;
		default:
			fprintf(stderr, "usage: see the comment in tests/tools/mediacall.c\n");
			return 2;
		}
	}
	if (in && xgot) {	/* comparison only */
		max_lag = 24000;
		xmode = 1;
		if ((e = media_wav_read(in, &sent)) ||
		    (e = media_pcm_resample(&sent, 8000, &sent8)) ||
		    (e = compare(&sent8, xgot, &corr_ab, &seg_ab, &d_ab)))
			return die("compare", e);
		printf("corr=%.3f seg=%.3f delay_ms=%.1f\n", corr_ab, seg_ab, d_ab);
		media_pcm_free(&sent);
		media_pcm_free(&sent8);
		return 0;
	}
	if (!in || !dir)
		return die("-i and -d are needed", -EINVAL);
	snprintf(aout, sizeof(aout), "%s/a_out.wav", dir);
	snprintf(bout, sizeof(bout), "%s/b_out.wav", dir);

	e = media_engine_new(NULL, &eng);
	if (e)
		return die("engine", e);
	ca.addr = addr;
	ca.port = (uint16_t)port;
	ca.audio_in = in;
	ca.audio_out = aout;
	ca.rtcp_interval_ms = rtcp_ms;
	ca.loss_permille = loss;
	ca.jitter_ms = jitter;
	ca.seed = 12345;
	cb = ca;
	cb.port = port ? (uint16_t)(port + 2) : 0;
	cb.audio_out = bout;
	cb.seed = 54321;
	if (!strcmp(suite, "none")) {
		ca.flags |= MEDIA_F_OFFER_PLAIN;
		cb.flags |= MEDIA_F_ALLOW_PLAIN;
	}
	if (!strcmp(codec, "pcmu") || !strcmp(codec, "pcma"))
		cb.flags |= MEDIA_F_NO_OPUS;
	if ((e = media_session_new(eng, &ca, &a)))
		return die("session A", e);
	if ((e = media_session_new(eng, &cb, &b)))
		return die("session B", e);
	if ((e = media_offer(a, offer, sizeof(offer), &n)))
		return die("offer", e);
	if (!strcmp(suite, "aescm"))
		keep_suite(offer, "AES_CM_128_HMAC_SHA1_80");
	if (!strcmp(codec, "pcma")) {   /* take PCMU out of the offer */
		char *m = strstr(offer, " 0 8");

		if (m)
			memmove(m, m + 2, strlen(m + 2) + 1);
		m = strstr(offer, "a=rtpmap:0 PCMU/8000\r\n");
		if (m)
			memmove(m, m + 22, strlen(m + 22) + 1);
	}
	if ((e = media_answer(b, offer, strlen(offer), answer, sizeof(answer), &n)))
		return die("answer", e);
	if (wrong)
		corrupt_key(answer);
	if ((e = media_accept(a, answer, strlen(answer))))
		return die("accept", e);
	if ((e = media_start(a)) || (e = media_start(b)))
		return die("start", e);
	sleep(secs);
	media_stop(a);
	media_stop(b);
	print_stats("A", a);
	print_stats("B", b);
	media_session_free(a);
	media_session_free(b);
	media_engine_free(eng);

	if ((e = media_wav_read(in, &sent)) ||
	    (e = media_pcm_resample(&sent, 8000, &sent8)))
		return die("reading the input", e);
	if (compare(&sent8, bout, &corr_ab, &seg_ab, &d_ab))
		corr_ab = seg_ab = 0;	/* nothing heard */
	if (compare(&sent8, aout, &corr_ba, &seg_ba, &d_ba))
		corr_ba = seg_ba = 0;
	printf("corr_ab=%.3f seg_ab=%.3f delay_ab_ms=%.1f corr_ba=%.3f "
	       "seg_ba=%.3f delay_ba_ms=%.1f\n",
	       corr_ab, seg_ab, d_ab, corr_ba, seg_ba, d_ba);
	media_pcm_free(&sent);
	media_pcm_free(&sent8);
	return 0;
}
