/*
 * media_emodel: the ITU-T G.107 E-model in its usual simplified form
 * (every default left at its G.107 value, so R0 - Is = 93.2):
 *
 *   R = 93.2 - Id - Ie,eff
 *   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)     d: one-way delay, ms
 *   Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)        random loss (BurstR 1)
 *   MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6    (G.107 annex B)
 *
 * Ie and Bpl: G.711 with packet loss concealment, Ie 0 and Bpl 25.1
 * (G.113 appendix I). Opus is not in G.113; we take Ie 0 (wideband speech
 * at 32 kbit/s is above narrowband G.711 quality, and the narrowband
 * E-model cannot credit that) and Bpl 20 for the concealment, with the
 * loss counted after FEC recovery. See docs/calls.md.
 */
#include "media_priv.h"

double media_emodel(double delay_ms, double loss_pct, enum media_codec c,
		    double *mos)
{
	double ie = 0, bpl = c == MEDIA_CODEC_OPUS ? 20.0 : 25.1;
	double id, ieff, r;

	if (delay_ms < 0)
		delay_ms = 0;
	if (loss_pct < 0)
		loss_pct = 0;
	id = 0.024 * delay_ms;
	if (delay_ms > 177.3)
		id += 0.11 * (delay_ms - 177.3);
	ieff = ie + (95 - ie) * loss_pct / (loss_pct + bpl);
	r = 93.2 - id - ieff;
	if (r < 0)
		r = 0;
	if (mos) {
		if (r <= 0)
			*mos = 1;
		else if (r >= 100)
			*mos = 4.5;
		else
			*mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	}
	return r;
}
