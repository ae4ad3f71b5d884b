// web/app/format.js: numbers, money and dates as the user reads them: the browser's locale
// (or the one the user chose), money from integer minor units with the currency's own
// exponent (JPY 0, EUR 2, BHD 3), never through a float sum.

let locale = (typeof navigator !== 'undefined' && navigator.language) || 'en';
export function setLocale(l) {
  try { new Intl.NumberFormat(l); locale = l; } catch (e) { /* keep the current one */ }
}
export function getLocale() { return locale; }

const fmtCache = new Map();
function currencyFormat(currency) {
  const key = locale + '|' + currency;
  let f = fmtCache.get(key);
  if (!f) {
    try {
      f = new Intl.NumberFormat(locale, { style: 'currency', currency });
    } catch (e) {
      f = null; // not an ISO 4217 code: shown as a number and its code
    }
    fmtCache.set(key, f);
  }
  return f;
}

// The currency's exponent (minor-unit digits): what Intl knows, 2 when it does not.
export function exponent(currency) {
  const f = currencyFormat(currency);
  return f ? f.resolvedOptions().maximumFractionDigits : 2;
}

// "1234567" minor units of EUR -> "€12,345.67" (en) / "12.345,67 €" (de). Exact for any
// int64 minor amount: the digits are split as text, not divided as a float.
export function money(minor, currency) {
  if (minor === null || minor === undefined || minor === '') return '';
  const exp = exponent(currency);
  let s = String(minor);
  const neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  s = s.padStart(exp + 1, '0');
  const whole = s.slice(0, s.length - exp) || '0';
  const frac = exp > 0 ? s.slice(s.length - exp) : '';
  const f = currencyFormat(currency);
  if (!f) return (neg ? '-' : '') + whole + (frac ? '.' + frac : '') + ' ' + currency;
  // Number() is exact below 2^53 for the whole part; beyond it, format the parts by hand.
  if (whole.length <= 15) {
    const n = Number(whole + (frac ? '.' + frac : ''));
    return f.format(neg ? -n : n);
  }
  return (neg ? '-' : '') + whole + (frac ? '.' + frac : '') + ' ' + currency;
}

export function number(n) {
  return new Intl.NumberFormat(locale).format(n);
}

export function bytes(n) {
  if (n < 1024) return number(n) + ' B';
  if (n < 1024 * 1024) return new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(n / 1024) + ' KB';
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(n / 1048576) + ' MB';
}

// "2024-01-15" -> the locale's date, as a calendar date (no time zone shift).
export function date(ymd) {
  if (!ymd || !/^\d{4}-\d{2}-\d{2}/.test(ymd)) return ymd || '';
  const [y, m, d] = ymd.slice(0, 10).split('-').map(Number);
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function time(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(t));
}

// An ISO timestamp -> the locale's date and time (to the second).
export function dateTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
    minute: '2-digit', second: '2-digit' }).format(new Date(t));
}

// A typed amount ("12.34", "12,34", "1 234,5") in a currency -> its integer minor units as a
// string, exact (digits joined as text), or null when it is not a positive amount with at most
// the currency's exponent of decimals. The last '.' or ',' followed by 1..exponent digits is
// the decimal mark; other separators (spaces, the other mark) group thousands.
export function parseMinor(textIn, currency) {
  const exp = exponent(currency);
  const s = String(textIn || '').trim().replace(/[\s\u00a0\u202f']/g, '');
  const m = /^(\d{1,3}(?:[.,]\d{3})*|\d+)(?:([.,])(\d+))?$/.exec(s);
  if (!m) return null;
  let whole = m[1], frac = m[3] || '';
  if (m[2] && frac.length === 3 && exp < 3 && !m[1].includes(m[2])) {
    whole = m[1] + frac; frac = ''; // "1,234" read as a thousands group
  }
  if (frac.length > exp) return null;
  const digits = (whole.replace(/[.,]/g, '') + frac.padEnd(exp, '0')).replace(/^0+/, '');
  return digits === '' ? null : digits;
}
