// TODO(#42): enforce scope on this route
router.post('/payouts', pay);
