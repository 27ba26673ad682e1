import type { ChatRequest, ContentPart } from './canonical.js';

/**
 * Input-token estimate for providers with no counting endpoint.
 *
 * Accuracy: an ESTIMATE, not a tokenizer. BPE tokenizers (cl100k/o200k,
 * Claude's) average ~4 characters per token on English prose and code, so
 * Latin text is usually within ±15 %; CJK and emoji are closer to one token
 * per character, counted so here (each non-ASCII code point ≈ 1 token). Tool
 * schemas are counted over their JSON text; images and files are a fixed
 * cost (IMAGE_TOKENS, Anthropic's cap for a resized image), whatever their
 * size. Deterministic: the same request always gives the same number.
 */
export const IMAGE_TOKENS = 1600;
export const FILE_TOKENS = 1600;
/** Role markers and separators a chat template adds per message. */
const PER_MESSAGE = 4;
const PER_TOOL = 8;
const PER_CALL = 4;

export function estimateTextTokens(text: string): number {
  let ascii = 0;
  let wide = 0;
  for (const ch of text) {
    if (ch.codePointAt(0)! < 0x80) ascii++;
    else wide++;
  }
  return Math.ceil(ascii / 4) + wide;
}

function partTokens(p: ContentPart): number {
  switch (p.type) {
    case 'text':
    case 'reasoning':
      return estimateTextTokens(p.text);
    case 'image':
      return IMAGE_TOKENS;
    case 'file':
      return FILE_TOKENS;
  }
}

export function estimateChatTokens(chat: ChatRequest): number {
  let n = 0;
  for (const m of chat.messages) {
    n += PER_MESSAGE;
    for (const p of m.content) n += partTokens(p);
    for (const c of m.toolCalls ?? [])
      n += PER_CALL + estimateTextTokens(c.name) + estimateTextTokens(c.arguments);
  }
  for (const t of chat.tools ?? [])
    n +=
      PER_TOOL +
      estimateTextTokens(t.name) +
      estimateTextTokens(t.description ?? '') +
      estimateTextTokens(JSON.stringify(t.parameters));
  if (chat.responseFormat?.type === 'json_schema')
    n += estimateTextTokens(JSON.stringify(chat.responseFormat.schema));
  return Math.max(1, n);
}
