/**
 * Finding a secret in what the browser received, also when it was encoded on the way: base64 and
 * base64url (at any of the three byte offsets it could sit at inside a longer encoded value),
 * percent-encoding (as encodeURIComponent writes it, or every byte), hex, and JSON string escapes.
 */

export interface SecretForm {
  /** What the secret is called in a failure message. */
  secret: string;
  /** How it was written: "raw", "base64 at offset 1", "hex (upper case)", … */
  form: string;
  text: string;
}

/**
 * The part of the base64 encoding of `bytes` that does not depend on what surrounds them when
 * they start `offset` bytes (0–2) into a 3-byte group: the characters that mix in a neighbour's
 * bits are cut off at both ends.
 */
function base64Core(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64').replace(/=+$/, '');
  const head = [0, 2, 3][offset]!;
  const tail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
  return encoded.slice(head, encoded.length - tail);
}

const hex = (bytes: Buffer) => bytes.toString('hex');
const percentEveryByte = (bytes: Buffer) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const jsonEveryChar = (text: string) => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

/** Every form of every secret to look for (forms that come out the same are listed once). */
export function secretForms(secrets: Record<string, string>): SecretForm[] {
  const forms: SecretForm[] = [];
  for (const [secret, value] of Object.entries(secrets)) {
    if (value.length < 8) throw new Error(`${secret} is too short to search for safely: ${JSON.stringify(value)}`);
    const bytes = Buffer.from(value, 'utf8');
    const candidates: Array<[string, string]> = [
      ['raw', value],
      ['percent-encoded (encodeURIComponent)', encodeURIComponent(value)],
      ['percent-encoded (every byte, lower case)', percentEveryByte(bytes)],
      ['percent-encoded (every byte, upper case)', percentEveryByte(bytes).toUpperCase().replace(/%([0-9A-F]{2})/g, '%$1')],
      ['form-encoded', new URLSearchParams({ x: value }).toString().slice(2)],
      ['JSON-escaped', JSON.stringify(value).slice(1, -1)],
      ['JSON-escaped with \\/', JSON.stringify(value).slice(1, -1).replaceAll('/', '\\/')],
      ['JSON \\u-escaped (lower case)', jsonEveryChar(value)],
      ['JSON \\u-escaped (upper case)', jsonEveryChar(value).replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`)],
      ['hex (lower case)', hex(bytes)],
      ['hex (upper case)', hex(bytes).toUpperCase()],
    ];
    for (const offset of [0, 1, 2]) {
      const core = base64Core(bytes, offset);
      candidates.push([`base64 at byte offset ${offset}`, core]);
      candidates.push([`base64url at byte offset ${offset}`, core.replaceAll('+', '-').replaceAll('/', '_')]);
    }
    const seen = new Set<string>();
    for (const [form, text] of candidates) {
      if (seen.has(text)) continue;
      seen.add(text);
      forms.push({ secret, form, text });
    }
  }
  return forms;
}

/** "<secret> (<form>)" for every form found in `haystack` (latin1 text of the bytes). */
export function findSecrets(haystack: string, forms: SecretForm[]): string[] {
  return forms.filter((f) => haystack.includes(f.text)).map((f) => `${f.secret} (${f.form})`);
}
