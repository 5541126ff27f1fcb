-- migverify: rollback of the compatibility layer for posted_decisions, real_tweet_metrics.
-- Generated from migverify.toml. Gives back the legacy tables with every row the views hold now
-- (rows written after cutover included), their keys, constraints, sequences, grants, policies and
-- triggers; then removes the compatibility objects. One transaction.
BEGIN;
SET LOCAL lock_timeout TO '5s';

-- Locking the views locks the tables under them: no write can slip in during the copy back.
LOCK public.posted_decisions, public.real_tweet_metrics IN ACCESS EXCLUSIVE MODE;

-- The copy back reads the target tables themselves; the views can go first.
DROP VIEW public.posted_decisions
        , public.real_tweet_metrics;
ALTER TABLE public.posted_decisions_legacy DISABLE TRIGGER USER;
ALTER TABLE public.real_tweet_metrics_legacy DISABLE TRIGGER USER;
TRUNCATE TABLE public.posted_decisions_legacy, public.real_tweet_metrics_legacy;

-- posted_decisions: every row the view shows now, back into the legacy table.
INSERT INTO public.posted_decisions_legacy (id
                                          , decision_id
                                          , tweet_id
                                          , content
                                          , decision_type
                                          , topic
                                          , style
                                          , hook_type
                                          , posting_hour
                                          , quality_score
                                          , predicted_er
                                          , bandit_arm
                                          , generation_source
                                          , posted_at
                                          , created_at)
SELECT t.id
     , t.decision_id
     , t.tweet_id
     , t.tweet_text
     , t.content_type
     , t.topic
     , t.content_style
     , t.hook_type
     , t.posting_hour
     , t.quality_score
     , t.predicted_engagement_rate
     , t.bandit_arm
     , t.generation_source
     , t.posted_at
     , t.created_at
FROM public.posted_tweets_comprehensive AS t
ORDER BY t.id;

-- real_tweet_metrics: every row the view shows now, back into the legacy table.
INSERT INTO public.real_tweet_metrics_legacy (id
                                            , tweet_id
                                            , likes
                                            , retweets
                                            , replies
                                            , impressions
                                            , bookmarks
                                            , quotes
                                            , followers_gained
                                            , engagement_rate
                                            , collection_phase
                                            , is_verified
                                            , collected_at)
SELECT t.id
     , t.tweet_id
     , t.likes
     , t.retweets
     , t.replies
     , t.impressions
     , t.bookmarks
     , t.quotes
     , t.follows_gained
     , t.engagement_rate
     , t.collection_phase
     , t.is_verified
     , t.collected_at
FROM public.tweet_engagement_metrics_comprehensive AS t
ORDER BY t.id;
ALTER TABLE public.posted_decisions_legacy ENABLE TRIGGER USER;
ALTER TABLE public.real_tweet_metrics_legacy ENABLE TRIGGER USER;
SELECT setval('public.posted_decisions_id_seq', last_value, is_called)
FROM public.posted_tweets_comprehensive_id_seq;
SELECT setval('public.real_tweet_metrics_id_seq', last_value, is_called)
FROM public.tweet_engagement_metrics_comprehensive_id_seq;
ALTER TABLE public.posted_decisions_legacy RENAME TO posted_decisions;
ALTER TABLE public.real_tweet_metrics_legacy RENAME TO real_tweet_metrics;
COMMIT;
