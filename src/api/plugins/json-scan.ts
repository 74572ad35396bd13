/** What one pass over a JSON body found, before it is parsed. */
export interface JsonScan {
  /** The body nests objects and arrays deeper than the limit (the scan stopped there). */
  tooDeep: boolean;
  /**
   * Where each element of the top-level `"records"` array starts and ends ([start, end) offsets), when that array
   * holds only objects; undefined otherwise. With the key written more than once, the last one (as JSON.parse keeps).
   */
  records: [number, number][] | undefined;
}

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const RECORDS_KEY = '"records"';

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * One O(length) pass over a JSON text, without parsing and without recursion (a hostile document cannot exhaust the
 * stack): the deepest nesting, stopping as soon as `maxDepth` is passed, and the spans of the records API's records,
 * so the prediction log can store each record as the client sent it instead of serialising it again. The text is
 * assumed to be JSON; when it is not, JSON.parse refuses it afterwards and the spans are never used.
 */
export function scanJson(text: string, maxDepth: number): JsonScan {
  let depth = 0;
  let inString = false;
  let stringStart = -1;
  let lastKeyIsRecords = false;
  // 0: not in records; 1: after `"records":`, waiting for the value; 2: inside the records array.
  let recordsState = 0;
  let spans: [number, number][] = [];
  let elementStart = -1;
  let onlyObjects = true;
  let found: [number, number][] | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        if (depth === 1) lastKeyIsRecords = i - stringStart === RECORDS_KEY.length - 1 && text.startsWith(RECORDS_KEY, stringStart);
      }
      continue;
    }
    if (isSpace(c)) continue;
    if (recordsState === 1) {
      // The value of "records": an array is followed; anything else is not.
      if (c === OPEN_ARRAY) {
        recordsState = 2;
        spans = [];
        onlyObjects = true;
        depth++;
        if (depth > maxDepth) return { tooDeep: true, records: undefined };
        continue;
      }
      recordsState = 0;
    }
    if (recordsState === 2 && depth === 2 && c !== COMMA && c !== CLOSE_ARRAY && c !== OPEN_OBJECT) onlyObjects = false;
    switch (c) {
      case QUOTE:
        inString = true;
        stringStart = i;
        break;
      case COLON:
        if (depth === 1 && lastKeyIsRecords) recordsState = 1;
        lastKeyIsRecords = false;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (recordsState === 2 && depth === 2) elementStart = i;
        if (++depth > maxDepth) return { tooDeep: true, records: undefined };
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        depth--;
        if (recordsState === 2) {
          if (depth === 2 && c === CLOSE_OBJECT) spans.push([elementStart, i + 1]);
          else if (depth === 1) {
            recordsState = 0;
            found = onlyObjects ? spans : undefined;
          }
        }
        break;
      default:
        break;
    }
  }
  return { tooDeep: false, records: found };
}

/**
 * The spans of the records of a body that JSON.parse accepted and the records request schema validated (records are
 * objects of scalars, nothing else nests), found with a few `indexOf` calls instead of a pass over every character;
 * undefined when a string in the body holds a brace, where only scanJson can tell structure from text.
 *
 * Why it is exact: such a body has exactly `count + 1` structural `{` and `}` (the body's and one per record). When the
 * text holds no more of either, none is inside a string, so the k-th record runs from the (k + 1)-th `{` to the k-th
 * `}`. Depth needs no check either: the schema bounds it at 3.
 */
export function recordSpansOfValidBody(text: string, count: number): [number, number][] | undefined {
  const opens = new Array<number>(count + 1);
  let at = -1;
  for (let k = 0; k <= count; k++) {
    at = text.indexOf('{', at + 1);
    if (at < 0) return undefined;
    opens[k] = at;
  }
  if (text.indexOf('{', at + 1) >= 0) return undefined;
  const spans = new Array<[number, number]>(count);
  at = -1;
  for (let k = 0; k <= count; k++) {
    at = text.indexOf('}', at + 1);
    if (at < 0) return undefined;
    if (k < count) spans[k] = [opens[k + 1]!, at + 1];
  }
  if (text.indexOf('}', at + 1) >= 0) return undefined;
  return spans;
}
