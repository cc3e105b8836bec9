// ISO 8601 durations (P3M, P7D, PT12H, P1Y2M10DT2H30M) with calendar-aware arithmetic:
// "three months before 31 May" is 28/29 February, as a person would count it.

export interface IsoDuration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
  /** The text it was parsed from, for messages and reports. */
  readonly text: string;
}

const PATTERN =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Undefined when the text is not a duration of this form. */
export function parseIsoDuration(text: string): IsoDuration | undefined {
  const match = PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const n = (i: number): number => (match[i] === undefined ? 0 : Number(match[i]));
  return {
    years: n(1),
    months: n(2),
    weeks: n(3),
    days: n(4),
    hours: n(5),
    minutes: n(6),
    seconds: n(7),
    text: text.trim(),
  };
}

export function subtractDuration(from: Date, duration: IsoDuration): Date {
  return addDuration(from, duration, -1);
}

export function addDuration(from: Date, duration: IsoDuration, sign: 1 | -1 = 1): Date {
  const result = new Date(from.getTime());
  const totalMonths = duration.years * 12 + duration.months;
  if (totalMonths !== 0) {
    const day = result.getUTCDate();
    result.setUTCDate(1);
    result.setUTCMonth(result.getUTCMonth() + sign * totalMonths);
    const lastDay = new Date(Date.UTC(result.getUTCFullYear(), result.getUTCMonth() + 1, 0)).getUTCDate();
    result.setUTCDate(Math.min(day, lastDay));
  }
  const ms =
    ((duration.weeks * 7 + duration.days) * 86_400 +
      duration.hours * 3_600 +
      duration.minutes * 60 +
      duration.seconds) *
    1000;
  return new Date(result.getTime() + sign * ms);
}
