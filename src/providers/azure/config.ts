export type { AzureKeyConfig } from '../../config/schema.js';
