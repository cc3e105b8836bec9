// Blob Storage access tiers: where the archive keeps a blob, and what the price table charges for each.
export type AccessTier = 'Hot' | 'Cool' | 'Cold' | 'Archive';
