"""wavconv: WAV conversions for tests/integration/call_baresip.sh, with the
standard library only (wave, audioop; Debian 12's Python 3.11).

  wavconv.py src IN.wav STEREO48.wav MONO48.wav
      IN (16-bit mono, any rate) resampled to 48 kHz and padded with
      silence to 10 s (aufile ends baresip's call at the end of its file):
      STEREO48 for baresip's aufile source (it wants the call's 48 kHz
      stereo), MONO48 the same samples as mono, for tests/tools/mediacall.
  wavconv.py mono IN.wav OUT.wav
      IN (16-bit, one or two channels) as mono (the channels averaged),
      rate kept: baresip's sndfile recording for mediacall, which reads
      mono WAV only.
  wavconv.py rms IN.wav
      prints the RMS amplitude of IN (16-bit mono or stereo).
"""
import audioop
import sys
import wave


def read(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"wavconv: {path}: not 16-bit")
        return w.readframes(w.getnframes()), w.getnchannels(), w.getframerate()


def write(path, data, ch, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)


def main(argv):
    if len(argv) == 5 and argv[1] == "src":
        data, ch, rate = read(argv[2])
        if ch != 1:
            sys.exit("wavconv: src wants a mono input")
        data, _ = audioop.ratecv(data, 2, 1, rate, 48000, None)
        data += bytes(max(0, 2 * 48000 * 10 - len(data)))
        write(argv[3], audioop.tostereo(data, 2, 1, 1), 2, 48000)
        write(argv[4], data, 1, 48000)
    elif len(argv) == 4 and argv[1] == "mono":
        data, ch, rate = read(argv[2])
        if ch == 2:
            data = audioop.tomono(data, 2, 0.5, 0.5)
        write(argv[3], data, 1, rate)
    elif len(argv) == 3 and argv[1] == "rms":
        data, _, _ = read(argv[2])
        print(audioop.rms(data, 2) if data else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
